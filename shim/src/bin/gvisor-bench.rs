//! `make bench`: a report (not a test) of what the sandbox costs, measured
//! natively and sandboxed in the same run, with the ratio to native and to
//! the exit floor (one bare VM exit round trip), and the exits each took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kvm_vcpu::{Perms, UserRegs, VcpuExit, Vm, VmConfig, PAGE_SIZE};

/// Runs a guest that only does `syscall` in a loop: one exit per iteration,
/// nothing served. Returns µs per exit.
fn exit_floor(iters: u32) -> Result<(f64, String)> {
    let vm = Vm::new(VmConfig {
        memory_size: 64 << 20,
        max_vcpus: 1,
    })
    .context("creating a VM for the exit floor")?;
    let space = vm.new_address_space()?;
    let page = vm.memory().alloc_page()?;
    // loop: syscall; jmp loop
    vm.memory().write(page, &[0x0f, 0x05, 0xeb, 0xfc])?;
    space.map(0x40_0000, page, PAGE_SIZE, Perms::RX)?;
    let mut vcpu = vm.acquire_vcpu()?;
    let mut regs = UserRegs {
        rip: 0x40_0000,
        rflags: 0x202,
        ..Default::default()
    };
    for _ in 0..100 {
        vcpu.run(&mut regs, &space)?;
    }
    let t = Instant::now();
    for _ in 0..iters {
        match vcpu.run(&mut regs, &space)? {
            VcpuExit::Syscall => {}
            other => bail!("exit floor guest gave {other:?}"),
        }
    }
    Ok((
        t.elapsed().as_secs_f64() * 1e6 / iters as f64,
        vm.backend().to_string(),
    ))
}

fn ns_per_op(out: &std::process::Output) -> Result<f64> {
    let s = String::from_utf8_lossy(&out.stdout);
    s.lines()
        .find_map(|l| l.strip_prefix("ns_per_op="))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| {
            format!(
                "no ns_per_op in output {s:?} (stderr {:?})",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

fn exits(out: &std::process::Output) -> Result<u64> {
    let s = String::from_utf8_lossy(&out.stderr);
    s.lines()
        .filter(|l| l.starts_with("gvisor-stats:"))
        .flat_map(|l| l.split_whitespace())
        .find_map(|w| w.strip_prefix("exits=")?.parse().ok())
        .with_context(|| format!("no gvisor-stats in stderr {s:?}"))
}

fn run(cmd: &mut Command) -> Result<std::process::Output> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

fn sandboxed(gvisor: &Path, extra: &[&str], prog: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(gvisor);
    c.arg("do")
        .arg("--stats")
        .args(extra)
        .arg("--")
        .arg(prog)
        .args(args);
    c
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Row {
    name: String,
    unit: &'static str,
    native: f64,
    sandbox: f64,
    exits_per_op: f64,
}

fn main() -> Result<()> {
    let dir = std::env::current_exe()?
        .parent()
        .context("bench binary has no directory")?
        .to_path_buf();
    let gvisor = dir.join("gvisor");
    if !gvisor.exists() {
        bail!(
            "{} not found: build it first (cargo build --release -p shim)",
            gvisor.display()
        );
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bench/bench.c");
    let prog: PathBuf = dir.join("bench-prog");
    run(Command::new("gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&prog)
        .arg(&src))
    .context("compiling tests/bench/bench.c (needs gcc and libc6-dev)")?;
    let busybox = Path::new("/bin/busybox");

    let (floor, backend) = exit_floor(20_000)?;
    // GVISOR_BENCH_ONLY=nginx: the nginx comparison alone.
    if std::env::var("GVISOR_BENCH_ONLY").as_deref() == Ok("nginx") {
        println!("gvisor-rs benchmark ({backend})");
        println!("exit floor (bare VM exit round trip, no sentry work): {floor:.2} µs per exit\n");
        let report = nginx::bench(&gvisor, floor)
            .unwrap_or_else(|e| format!("nginx comparison skipped: {e:#}\n"));
        println!("{report}");
        return Ok(());
    }
    let mut rows = Vec::new();

    // getpid round trip.
    let n = 20_000;
    let native = ns_per_op(&run(Command::new(&prog).args(["getpid", "1000000"]))?)?;
    let out = run(&mut sandboxed(
        &gvisor,
        &[],
        &prog,
        &["getpid", &n.to_string()],
    ))?;
    rows.push(Row {
        name: "getpid round trip".into(),
        unit: "µs",
        native: native / 1000.0,
        sandbox: ns_per_op(&out)? / 1000.0,
        exits_per_op: exits(&out)? as f64 / n as f64,
    });

    // Page faults: touch N fresh pages, with and without fault-around.
    let pages = 16_384;
    let native = ns_per_op(&run(
        Command::new(&prog).args(["touch", &pages.to_string()])
    )?)?;
    for (label, fa) in [("fault-around 256", "256"), ("fault-around off", "1")] {
        let out = run(&mut sandboxed(
            &gvisor,
            &["--fault-around", fa],
            &prog,
            &["touch", &pages.to_string()],
        ))?;
        rows.push(Row {
            name: format!("page touch, {label}"),
            unit: "µs/page",
            native: native / 1000.0,
            sandbox: ns_per_op(&out)? / 1000.0,
            exits_per_op: exits(&out)? as f64 / pages as f64,
        });
    }

    // Process model: fork+exec+wait, fork of a 100 MB process, pipes, files.
    for (name, unit, mode, n, native_n) in [
        ("fork+exec+wait /bin/true", "ms", "forkexec", 20u64, 200u64),
        ("fork+wait, parent touched 100 MB", "ms", "fork100m", 5, 20),
        ("pipe throughput (per MiB)", "ms", "pipe", 64, 256),
        ("TCP loopback round trip", "ms", "tcprr", 2000, 20000),
        (
            "TCP loopback connect+accept+close",
            "ms",
            "tcpconn",
            500,
            5000,
        ),
        (
            "TCP loopback throughput (per MiB)",
            "ms",
            "tcpstream",
            128,
            512,
        ),
        ("unix socket round trip", "ms", "unixrr", 2000, 20000),
        (
            "unix socket throughput (per MiB)",
            "ms",
            "unixstream",
            128,
            512,
        ),
    ] {
        let native = ns_per_op(&run(
            Command::new(&prog).args([mode, &native_n.to_string()])
        )?)?;
        let out = run(&mut sandboxed(&gvisor, &[], &prog, &[mode, &n.to_string()]))?;
        rows.push(Row {
            name: name.into(),
            unit,
            native: native / 1e6,
            sandbox: ns_per_op(&out)? / 1e6,
            exits_per_op: exits(&out)? as f64 / n as f64,
        });
    }
    let file = dir.join("bench-100m.bin");
    if !file.exists() {
        let data: Vec<u8> = (0..100u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        std::fs::write(&file, data).context("writing the 100 MB benchmark file")?;
    }
    let fpath = file.to_string_lossy().into_owned();
    let native = ns_per_op(&run(Command::new(&prog).args(["readfile", "100", &fpath]))?)?;
    let out = run(&mut sandboxed(
        &gvisor,
        &[],
        &prog,
        &["readfile", "100", &fpath],
    ))?;
    rows.push(Row {
        name: "read a 100 MB file (per MiB)".into(),
        unit: "ms",
        native: native / 1e6,
        sandbox: ns_per_op(&out)? / 1e6,
        exits_per_op: exits(&out)? as f64 / 100.0,
    });

    // Files: stat and open+read+close of 1000 small files of the root file
    // system (read-only, through the gofer), and a 100 MB sequential write
    // and read on a read-write bind mount (`gvisor run` of a bundle whose
    // root is the host's /, with the bench directory bound at /data).
    let small = dir.join("bench-small");
    if !small.join("f999").exists() {
        std::fs::create_dir_all(&small)?;
        for i in 0..1000 {
            std::fs::write(small.join(format!("f{i}")), vec![b'x'; 1024])?;
        }
    }
    let small_s = small.to_string_lossy().into_owned();
    for (name, mode, n, unit_scale) in [
        ("stat() of 1000 files (per stat)", "stat", 5000u64, 1e3),
        ("open+read+close small file", "openread", 5000, 1e3),
    ] {
        let native = ns_per_op(&run(Command::new(&prog).args([
            mode,
            &n.to_string(),
            &small_s,
        ]))?)?;
        let out = run(&mut sandboxed(
            &gvisor,
            &[],
            &prog,
            &[mode, &n.to_string(), &small_s],
        ))?;
        rows.push(Row {
            name: name.into(),
            unit: "µs",
            native: native / unit_scale,
            sandbox: ns_per_op(&out)? / unit_scale,
            exits_per_op: exits(&out)? as f64 / n as f64,
        });
    }
    let bundle = dir.join("bench-bundle");
    let data = dir.join("bench-data");
    std::fs::create_dir_all(&bundle)?;
    std::fs::create_dir_all(&data)?;
    let write_bundle = |args: &[&str]| -> Result<()> {
        let args_json: Vec<String> = std::iter::once(prog.to_string_lossy().into_owned())
            .chain(args.iter().map(|s| s.to_string()))
            .map(|a| format!("{a:?}"))
            .collect();
        let config = format!(
            r#"{{"ociVersion":"1.0.2","root":{{"path":"/"}},"process":{{"args":[{}],"cwd":"/","user":{{"uid":0,"gid":0}}}},"mounts":[{{"destination":"/proc","type":"proc","source":"proc"}},{{"destination":"/data","type":"bind","source":{:?},"options":["rbind","rw"]}}]}}"#,
            args_json.join(","),
            data.to_string_lossy()
        );
        std::fs::write(bundle.join("config.json"), config).context("writing the bench bundle")
    };
    let native_file = data.join("native-100m.bin");
    let native_w = ns_per_op(&run(Command::new(&prog).args([
        "seqwrite",
        "100",
        &native_file.to_string_lossy(),
    ]))?)?;
    write_bundle(&["seqwrite", "100", "/data/sandbox-100m.bin"])?;
    let out = run(Command::new(&gvisor)
        .args(["run", "--stats", "--bundle"])
        .arg(&bundle)
        .arg("bench-write"))?;
    rows.push(Row {
        name: "write 100 MB on a bind mount (per MiB)".into(),
        unit: "ms",
        native: native_w / 1e6,
        sandbox: ns_per_op(&out)? / 1e6,
        exits_per_op: exits(&out)? as f64 / 100.0,
    });
    let native_r = ns_per_op(&run(Command::new(&prog).args([
        "readfile",
        "100",
        &native_file.to_string_lossy(),
    ]))?)?;
    write_bundle(&["readfile", "100", "/data/sandbox-100m.bin"])?;
    let out = run(Command::new(&gvisor)
        .args(["run", "--stats", "--bundle"])
        .arg(&bundle)
        .arg("bench-read"))?;
    rows.push(Row {
        name: "read 100 MB on a bind mount (per MiB)".into(),
        unit: "ms",
        native: native_r / 1e6,
        sandbox: ns_per_op(&out)? / 1e6,
        exits_per_op: exits(&out)? as f64 / 100.0,
    });
    let _ = std::fs::remove_dir_all(&data);

    // Start to exit of busybox true.
    let reps = 15;
    let mut nat = Vec::new();
    let mut sb = Vec::new();
    let mut ex = 0;
    for _ in 0..reps {
        let t = Instant::now();
        run(Command::new(busybox).arg("true"))?;
        nat.push(t.elapsed());
        let t = Instant::now();
        let out = run(&mut sandboxed(&gvisor, &[], busybox, &["true"]))?;
        sb.push(t.elapsed());
        ex = exits(&out)?;
    }
    rows.push(Row {
        name: "start-to-exit busybox true".into(),
        unit: "ms",
        native: median(nat).as_secs_f64() * 1e3,
        sandbox: median(sb).as_secs_f64() * 1e3,
        exits_per_op: ex as f64,
    });

    let ctr_report = containerd_bench(&gvisor).unwrap_or_else(|e| {
        format!("containerd benchmarks skipped: {e:#} (needs the containerd, runc and umoci packages)\n")
    });

    println!("gvisor-rs benchmark ({backend})");
    println!("exit floor (bare VM exit round trip, no sentry work): {floor:.2} µs per exit\n");
    println!(
        "| {:<34} | {:>12} | {:>12} | {:>8} | {:>10} | {:>10} |",
        "benchmark", "native", "gvisor-rs", "vs native", "vs floor", "exits/op"
    );
    println!(
        "|{:-<36}|{:->14}|{:->14}|{:->10}|{:->12}|{:->12}|",
        "", "", "", "", "", ""
    );
    for r in rows {
        let sandbox_us = match r.unit {
            "ms" => r.sandbox * 1000.0,
            _ => r.sandbox,
        };
        println!(
            "| {:<34} | {:>9.3} {:<2} | {:>9.3} {:<2} | {:>7.1}x | {:>9.1}x | {:>10.3} |",
            r.name,
            r.native,
            if r.unit == "µs/page" { "µs" } else { r.unit },
            r.sandbox,
            if r.unit == "µs/page" { "µs" } else { r.unit },
            r.sandbox / r.native,
            sandbox_us / floor,
            r.exits_per_op
        );
    }
    println!("\n{ctr_report}");
    let nginx_report = nginx::bench(&gvisor, floor)
        .unwrap_or_else(|e| format!("nginx comparison skipped: {e:#}\n"));
    println!("{nginx_report}");
    Ok(())
}

/// Proportional set size of a process, KiB (0 if it is gone).
fn pss_kib(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Pss:")
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
        })
        .unwrap_or(0)
}

/// (pid, ppid, argv0, cmdline) of every process.
fn processes() -> Vec<(i32, i32, String, String)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let argv0 =
            String::from_utf8_lossy(cmd.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
        let cmdline = String::from_utf8_lossy(&cmd).replace('\0', " ");
        v.push((pid, ppid, argv0, cmdline));
    }
    v
}

/// PSS (KiB) of the shim serving container `id` and of its children (the
/// sandbox: sentry and gofer for gvisor-rs; the container's process for
/// runc), with the children's names.
fn idle_memory(id: &str) -> Result<(u64, u64, Vec<String>)> {
    let ps = processes();
    let needle = format!("-id {id} ");
    let shim = ps
        .iter()
        .find(|p| p.3.contains(&needle) && p.2.contains("containerd-shim"))
        .with_context(|| format!("no shim for {id}"))?
        .0;
    let kids: Vec<&(i32, i32, String, String)> = ps.iter().filter(|p| p.1 == shim).collect();
    Ok((
        pss_kib(shim),
        kids.iter().map(|p| pss_kib(p.0)).sum(),
        kids.iter().map(|p| p.2.clone()).collect(),
    ))
}

/// `ctr run --rm` start-to-exit of busybox `true`, gvisor-rs against runc in
/// the same private containerd, and the memory of an idle container.
fn containerd_bench(gvisor: &Path) -> Result<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?
        .to_path_buf();
    let env_sh = root.join("tests/containerd/env.sh");
    let bindir = gvisor.parent().context("the gvisor binary's directory")?;
    let dir = PathBuf::from(format!("/tmp/gvisor-bench-ctd-{}", std::process::id()));
    run(Command::new("sh")
        .arg(&env_sh)
        .arg("start")
        .arg(&dir)
        .arg(bindir))?;
    let sock = dir.join("containerd.sock");
    let ctr = |args: &[&str]| -> Result<std::process::Output> {
        run(Command::new("ctr").arg("-a").arg(&sock).args(args))
    };
    let result = (|| -> Result<String> {
        const IMAGE: &str = "docker.io/library/busybox:latest";
        let runtimes = [
            ("runc", "io.containerd.runc.v2"),
            ("gvisor-rs", "io.containerd.gvisor.v1"),
        ];
        // Warm both paths once.
        for (name, rt) in runtimes {
            ctr(&[
                "run",
                "--rm",
                "--runtime",
                rt,
                IMAGE,
                &format!("warm-{name}"),
                "true",
            ])?;
        }
        let reps = 10;
        let mut times: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for i in 0..reps {
            for (k, (name, rt)) in runtimes.iter().enumerate() {
                let t = Instant::now();
                ctr(&[
                    "run",
                    "--rm",
                    "--runtime",
                    rt,
                    IMAGE,
                    &format!("t-{name}-{i}"),
                    "true",
                ])?;
                times[k].push(t.elapsed());
            }
        }
        let [runc_t, gv_t] = times;
        let (runc_ms, gv_ms) = (
            median(runc_t).as_secs_f64() * 1e3,
            median(gv_t).as_secs_f64() * 1e3,
        );
        let mut out = String::from("containerd (private instance, same run):\n");
        out.push_str(&format!(
            "| {:<40} | {:>10} | {:>10} | {:>8} |\n|{:-<42}|{:->12}|{:->12}|{:->10}|\n",
            "benchmark", "runc", "gvisor-rs", "ratio", "", "", "", ""
        ));
        out.push_str(&format!(
            "| {:<40} | {:>7.1} ms | {:>7.1} ms | {:>7.1}x |\n",
            "ctr run --rm busybox true (median of 10)",
            runc_ms,
            gv_ms,
            gv_ms / runc_ms
        ));
        // Idle memory: a sleeping container under each runtime.
        let mut mem = Vec::new();
        for (name, rt) in runtimes {
            let id = format!("idle-{name}");
            ctr(&["run", "-d", "--runtime", rt, IMAGE, &id, "sleep", "1000"])?;
            std::thread::sleep(Duration::from_secs(2));
            mem.push(idle_memory(&id));
            let _ = ctr(&["task", "kill", "-s", "KILL", &id]);
            std::thread::sleep(Duration::from_millis(500));
            let _ = ctr(&["task", "rm", "-f", &id]);
            let _ = ctr(&["containers", "rm", &id]);
        }
        let (runc_shim, runc_kids, runc_names) = mem.remove(0)?;
        let (gv_shim, gv_kids, gv_names) = mem.remove(0)?;
        out.push_str(&format!(
            "| {:<40} | {:>7.1} MiB | {:>7.1} MiB | {:>7.1}x |\n",
            "idle container, sandbox/container (PSS)",
            runc_kids as f64 / 1024.0,
            gv_kids as f64 / 1024.0,
            gv_kids as f64 / runc_kids.max(1) as f64
        ));
        out.push_str(&format!(
            "| {:<40} | {:>7.1} MiB | {:>7.1} MiB | {:>7.1}x |\n",
            "idle container, shim (PSS)",
            runc_shim as f64 / 1024.0,
            gv_shim as f64 / 1024.0,
            gv_shim as f64 / runc_shim.max(1) as f64
        ));
        out.push_str(&format!(
            "(measured processes: runc {runc_names:?}; gvisor-rs {gv_names:?})\n"
        ));
        Ok(out)
    })();
    let _ = Command::new("sh")
        .arg(&env_sh)
        .arg("stop")
        .arg(&dir)
        .status();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The study's nginx comparison: wrk against the same nginx and
/// configuration natively, under runc and under gvisor-rs (through the
/// private containerd, `ctr run` in a network namespace with a veth pair to
/// the host and a DNAT rule: a port mapping), keepalive and
/// `Connection: close`.
mod nginx {
    use std::fmt::Write as _;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context, Result};

    use super::run;

    const PAGE_BYTES: usize = 1024;
    const IMAGE: &str = "docker.io/library/nginx:latest";

    /// One wrk run.
    #[derive(Clone, Copy)]
    struct Wrk {
        rps: f64,
        p99_ms: f64,
        requests: u64,
    }

    fn seconds() -> u32 {
        std::env::var("GVISOR_BENCH_WRK_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(5)
    }

    /// "512.00us", "1.23ms", "2.00s" in ms.
    fn parse_ms(v: &str) -> Option<f64> {
        let (num, scale) = if let Some(n) = v.strip_suffix("us") {
            (n, 1e-3)
        } else if let Some(n) = v.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = v.strip_suffix('s') {
            (n, 1e3)
        } else if let Some(n) = v.strip_suffix('m') {
            (n, 60e3)
        } else {
            return None;
        };
        num.parse::<f64>().ok().map(|x| x * scale)
    }

    fn wrk(url: &str, close: bool, secs: u32, conns: u32) -> Result<Wrk> {
        let mut c = Command::new("wrk");
        c.args([
            "-t2",
            &format!("-c{conns}"),
            &format!("-d{secs}s"),
            "--latency",
        ]);
        if close {
            c.args(["-H", "Connection: close"]);
        }
        c.arg(url);
        let out = run(&mut c)?;
        let s = String::from_utf8_lossy(&out.stdout);
        let rps = s
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse().ok())
            .with_context(|| format!("no Requests/sec in wrk's output {s:?}"))?;
        let p99_ms = s
            .lines()
            .find_map(|l| l.trim().strip_prefix("99%"))
            .and_then(|v| parse_ms(v.trim()))
            .with_context(|| format!("no 99% latency in wrk's output {s:?}"))?;
        let requests = s
            .lines()
            .find_map(|l| {
                let t = l.trim();
                t.contains(" requests in ")
                    .then(|| t.split_whitespace().next()?.parse().ok())
                    .flatten()
            })
            .with_context(|| format!("no request count in wrk's output {s:?}"))?;
        if let Some(l) = s.lines().find(|l| l.contains("Non-2xx")) {
            bail!("wrk against {url}: {}", l.trim());
        }
        Ok(Wrk {
            rps,
            p99_ms,
            requests,
        })
    }

    /// The image's nginx.conf (tests/images/nginx.sh) with other paths.
    fn conf(listen: &str, root: &Path, dir: &Path) -> String {
        let t = dir.join("temp");
        format!(
            "user www-data;\nworker_processes auto;\npid {pid};\nerror_log /dev/stderr;\n\
             events {{\n    worker_connections 768;\n}}\nhttp {{\n    sendfile on;\n    tcp_nopush on;\n\
             include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n\
             access_log /dev/stderr;\n    client_body_temp_path {t}/body;\n    proxy_temp_path {t}/proxy;\n\
             fastcgi_temp_path {t}/fastcgi;\n    uwsgi_temp_path {t}/uwsgi;\n    scgi_temp_path {t}/scgi;\n\
             server {{\n        listen {listen} default_server;\n        root {root};\n        index index.html;\n    }}\n}}\n",
            pid = dir.join("nginx.pid").display(),
            t = t.display(),
            root = root.display(),
        )
    }

    fn wait_port(addr: &str, timeout: Duration) -> Result<()> {
        let sa: std::net::SocketAddr = addr.parse().with_context(|| format!("address {addr}"))?;
        let end = Instant::now() + timeout;
        loop {
            if std::net::TcpStream::connect_timeout(&sa, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() > end {
                bail!("nothing answers on {addr} after {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn free_port() -> Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port())
    }

    fn quit(child: &mut Child, sig: i32, timeout: Duration) -> bool {
        // SAFETY: kill(2) of a child this process started.
        unsafe { libc::kill(child.id() as i32, sig) };
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// Host nginx with the image's configuration on 127.0.0.1:`port`,
    /// optionally under `strace -f -c -o FILE`.
    fn native(
        nginx: &Path,
        dir: &Path,
        html: &Path,
        strace: Option<&Path>,
    ) -> Result<(Child, String)> {
        let port = free_port()?;
        let addr = format!("127.0.0.1:{port}");
        let conf_file = dir.join("nginx.conf");
        std::fs::create_dir_all(dir.join("temp"))?;
        std::fs::write(&conf_file, conf(&addr, html, dir))?;
        let log = std::fs::File::create(dir.join("native.log"))?;
        let mut c = match strace {
            Some(out) => {
                let mut c = Command::new("strace");
                c.args(["-f", "-c", "-o"]).arg(out).arg(nginx);
                c
            }
            None => Command::new(nginx),
        };
        c.args(["-e", "/dev/stderr", "-c"])
            .arg(&conf_file)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(log);
        let child = c
            .spawn()
            .with_context(|| format!("starting {}", nginx.display()))?;
        wait_port(&addr, Duration::from_secs(10))?;
        Ok((child, addr))
    }

    /// System calls nginx makes per request (strace -c -f, less a run with
    /// no request), keepalive or not.
    fn syscalls_per_request(nginx: &Path, dir: &Path, html: &Path, close: bool) -> Result<f64> {
        let total = |n_requests: bool| -> Result<(u64, u64)> {
            let out = dir.join("strace.txt");
            let (mut child, addr) = native(nginx, dir, html, Some(&out))?;
            let served = if n_requests {
                wrk(&format!("http://{addr}/index.html"), close, 2, 4)?.requests
            } else {
                0
            };
            // nginx's master quits on SIGQUIT; strace writes its summary
            // when the last traced process is gone.
            let pid: i32 = std::fs::read_to_string(dir.join("nginx.pid"))?
                .trim()
                .parse()?;
            // SAFETY: kill(2) of the nginx this function started.
            unsafe { libc::kill(pid, libc::SIGQUIT) };
            let end = Instant::now() + Duration::from_secs(15);
            while child.try_wait()?.is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
            let s = std::fs::read_to_string(&out).context("strace's summary")?;
            let calls = s
                .lines()
                .find(|l| l.trim_end().ends_with(" total"))
                .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
                .with_context(|| format!("no total in strace's summary {s:?}"))?;
            Ok((calls, served))
        };
        let (base, _) = total(false)?;
        let (calls, served) = total(true)?;
        if served == 0 {
            bail!("no request served under strace");
        }
        Ok(calls.saturating_sub(base) as f64 / served as f64)
    }

    /// A network namespace with a veth pair to the host and a DNAT rule
    /// for host_ip:port to ns_ip:80. Removed when dropped.
    struct Mapped {
        name: String,
        host_if: String,
        host_ip: String,
        ns_ip: String,
        port: u16,
    }

    fn sh(script: &str) -> Result<()> {
        run(Command::new("sh").arg("-c").arg(script)).map(|_| ())
    }

    impl Mapped {
        /// `tag`: a digit, for a fresh namespace per sandbox (as each pod
        /// has its own).
        fn new(tag: u32, port: u16) -> Result<Mapped> {
            let pid = std::process::id();
            let third = (pid + tag * 37) % 250 + 2;
            let m = Mapped {
                name: format!("gvbench-{pid}-{tag}"),
                host_if: format!("gvb{}x{tag}", pid % 1_000_000),
                host_ip: format!("10.215.{third}.1"),
                ns_ip: format!("10.215.{third}.2"),
                port,
            };
            let (n, h) = (&m.name, &m.host_if);
            sh(&format!(
                "ip netns add {n} && ip link add {h} type veth peer name {h}c && \
                 ip link set {h}c netns {n} && ip -n {n} link set {h}c name eth0 && \
                 ip addr add {hip}/24 dev {h} && ip link set {h} up && \
                 ip -n {n} addr add {nip}/24 dev eth0 && ip -n {n} link set eth0 up && \
                 ip -n {n} link set lo up && ip -n {n} route add default via {hip}",
                hip = m.host_ip,
                nip = m.ns_ip
            ))?;
            sh(&format!("iptables -t nat -A OUTPUT {}", m.rule()))?;
            Ok(m)
        }

        fn rule(&self) -> String {
            format!(
                "-d {}/32 -p tcp --dport {} -m comment --comment {} -j DNAT --to-destination {}:80",
                self.host_ip, self.port, self.name, self.ns_ip
            )
        }

        fn url(&self) -> String {
            format!("http://{}:{}/index.html", self.host_ip, self.port)
        }

        fn addr(&self) -> String {
            format!("{}:{}", self.host_ip, self.port)
        }

        fn path(&self) -> String {
            format!("/var/run/netns/{}", self.name)
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            let _ = sh(&format!("iptables -t nat -D OUTPUT {}", self.rule()));
            let _ = sh(&format!("ip netns del {}", self.name));
            let _ = sh(&format!("ip link del {} 2>/dev/null || true", self.host_if));
        }
    }

    /// What one server gave: keepalive and close.
    struct Measured {
        name: &'static str,
        runs: Result<[Wrk; 2]>,
        exits_per_request: [Option<f64>; 2],
    }

    fn both(url: &str, addr: &str) -> Result<[Wrk; 2]> {
        wait_port(addr, Duration::from_secs(30))?;
        // Warm up (workers started, files cached).
        let _ = wrk(url, false, 1, 4);
        Ok([
            wrk(url, false, seconds(), 16)?,
            wrk(url, true, seconds(), 16)?,
        ])
    }

    /// nginx of the image in containerd (`ctr run` with `runtime`).
    fn in_containerd(
        ctr: &dyn Fn(&[&str]) -> Result<std::process::Output>,
        runtime: &str,
        tag: &str,
        m: &Mapped,
        html: &Path,
        dir: &Path,
    ) -> Result<[Wrk; 2]> {
        let id = format!("bench-nginx-{tag}");
        let log = dir.join(format!("{id}.log"));
        ctr(&[
            "run",
            "-d",
            "--runtime",
            runtime,
            "--with-ns",
            &format!("network:{}", m.path()),
            "--log-uri",
            &format!("file://{}", log.display()),
            "--mount",
            &format!(
                "type=bind,src={},dst=/usr/share/nginx/html,options=rbind:ro",
                html.display()
            ),
            IMAGE,
            &id,
        ])?;
        let r = both(&m.url(), &m.addr());
        let _ = ctr(&["tasks", "kill", "-s", "SIGKILL", &id]);
        let end = Instant::now() + Duration::from_secs(20);
        while ctr(&["tasks", "delete", &id]).is_err() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = ctr(&["containers", "delete", &id]);
        r
    }

    /// The image unpacked as a bundle for `gvisor run`, in `m`'s network
    /// namespace, with `html` bound at the document root.
    fn bundle(tar: &Path, dir: &Path, m: &Mapped, html: &Path) -> Result<PathBuf> {
        let layout = dir.join("layout");
        let bundle = dir.join("bundle");
        let _ = std::fs::remove_dir_all(&layout);
        let _ = std::fs::remove_dir_all(&bundle);
        std::fs::create_dir_all(&layout)?;
        run(Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-xf")
            .arg(tar))?;
        run(Command::new("umoci")
            .args(["unpack", "--image"])
            .arg(format!("{}:latest", layout.display()))
            .arg(&bundle))?;
        let cfg_path = bundle.join("config.json");
        let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&cfg_path)?)
            .context("the bundle's config.json")?;
        let ns = cfg["linux"]["namespaces"]
            .as_array_mut()
            .context("config.json has no linux.namespaces")?;
        ns.retain(|n| n["type"] != "network");
        ns.push(serde_json::json!({"type": "network", "path": m.path()}));
        cfg["mounts"]
            .as_array_mut()
            .context("config.json has no mounts")?
            .push(serde_json::json!({
                "destination": "/usr/share/nginx/html",
                "type": "bind",
                "source": html,
                "options": ["rbind", "ro"]
            }));
        cfg["process"]["terminal"] = serde_json::json!(false);
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg)?)?;
        Ok(bundle)
    }

    /// nginx under `gvisor run --stats` of the bundle, one mode per run:
    /// its wrk figures and the sentry's exits per request.
    fn gvisor_run(
        gvisor: &Path,
        bundle: &Path,
        m: &Mapped,
        dir: &Path,
        close: bool,
    ) -> Result<(Wrk, f64)> {
        let err = dir.join("gvisor-run.stderr");
        let mut child = Command::new(gvisor)
            .args(["run", "--stats", "--bundle"])
            .arg(bundle)
            .arg(format!("bench-nginx-run-{}", std::process::id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err)?)
            .spawn()
            .context("starting gvisor run")?;
        let r = (|| -> Result<Wrk> {
            wait_port(&m.addr(), Duration::from_secs(30))?;
            wrk(&m.url(), close, seconds(), 16)
        })();
        // The launcher forwards SIGQUIT: nginx's master quits, the sandbox
        // ends and the sentry prints its stats.
        let clean = quit(&mut child, libc::SIGQUIT, Duration::from_secs(20));
        let w = r.with_context(|| {
            format!(
                "gvisor run: {}",
                std::fs::read_to_string(&err).unwrap_or_default().trim()
            )
        })?;
        let s = std::fs::read_to_string(&err).unwrap_or_default();
        let exits: u64 = s
            .lines()
            .filter(|l| l.starts_with("gvisor-stats:"))
            .flat_map(|l| l.split_whitespace())
            .find_map(|w| w.strip_prefix("exits=")?.parse().ok())
            .with_context(|| {
                format!(
                    "no gvisor-stats from gvisor run ({}): {}",
                    if clean {
                        "it ended"
                    } else {
                        "killed after 20 s"
                    },
                    s.trim()
                )
            })?;
        Ok((w, exits as f64 / w.requests.max(1) as f64))
    }

    pub(super) fn bench(gvisor: &Path, floor_us: f64) -> Result<String> {
        for (tool, pkg) in [
            ("wrk", "wrk"),
            ("nginx", "nginx-light"),
            ("strace", "strace"),
            ("iptables", "iptables"),
            ("ip", "iproute2"),
            ("umoci", "umoci"),
        ] {
            if run(Command::new("sh")
                .arg("-c")
                .arg(format!("command -v {tool}")))
            .is_err()
            {
                bail!("{tool} is missing (apt-get install {pkg})");
            }
        }
        let nginx = PathBuf::from(
            String::from_utf8_lossy(
                &run(Command::new("sh").arg("-c").arg("command -v nginx"))?.stdout,
            )
            .trim(),
        );
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("workspace root")?
            .to_path_buf();
        let dir = PathBuf::from(format!("/tmp/gvisor-bench-nginx-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let result = bench_in(gvisor, floor_us, &nginx, &root, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn bench_in(
        gvisor: &Path,
        floor_us: f64,
        nginx: &Path,
        root: &Path,
        dir: &Path,
    ) -> Result<String> {
        let html = dir.join("html");
        std::fs::create_dir_all(&html)?;
        let page: String = std::iter::repeat("gvisor-rs nginx benchmark page\n")
            .flat_map(|l| l.chars())
            .take(PAGE_BYTES)
            .collect();
        std::fs::write(html.join("index.html"), &page)?;
        let mut notes = String::new();

        // Native.
        let native_dir = dir.join("native");
        std::fs::create_dir_all(&native_dir)?;
        let native_runs = (|| -> Result<[Wrk; 2]> {
            let (mut child, addr) = native(nginx, &native_dir, &html, None)?;
            let r = both(&format!("http://{addr}/index.html"), &addr);
            quit(&mut child, libc::SIGQUIT, Duration::from_secs(10));
            r
        })();
        let syscalls: [Option<f64>; 2] = [false, true].map(|close| {
            syscalls_per_request(nginx, &native_dir, &html, close)
                .map_err(|e| {
                    let _ = writeln!(notes, "syscalls per request: {e:#}");
                })
                .ok()
        });
        let mut measured = vec![Measured {
            name: "native",
            runs: native_runs,
            exits_per_request: [None, None],
        }];

        // Containers: the private containerd, the image, a mapped netns.
        let image_tar = dir.join("nginx.tar");
        run(Command::new("sh")
            .arg(root.join("tests/images/nginx.sh"))
            .arg(&image_tar))
        .context("building the nginx image (tests/images/nginx.sh)")?;
        let env_sh = root.join("tests/containerd/env.sh");
        let cdir = dir.join("containerd");
        let bridge = format!("gvb{}x", std::process::id() % 100_000);
        let subnet = format!("10.216.{}", std::process::id() % 250 + 2);
        let started = run(Command::new("sh")
            .arg(&env_sh)
            .arg("start")
            .arg(&cdir)
            .arg(gvisor.parent().context("the gvisor binary's directory")?)
            .env("GVISOR_CNI_BRIDGE", &bridge)
            .env("GVISOR_CNI_SUBNET", &subnet));
        let sock = cdir.join("containerd.sock");
        let ctr = |args: &[&str]| -> Result<std::process::Output> {
            run(Command::new("ctr").arg("-a").arg(&sock).args(args))
        };
        match started.and_then(|_| {
            ctr(&[
                "images",
                "import",
                "--base-name",
                "docker.io/library/nginx",
                &image_tar.to_string_lossy(),
            ])
        }) {
            Ok(_) => {
                for (k, (name, rt, tag)) in [
                    ("runc", "io.containerd.runc.v2", "runc"),
                    ("gvisor-rs", "io.containerd.gvisor.v1", "gvisor"),
                ]
                .into_iter()
                .enumerate()
                {
                    let runs = Mapped::new(k as u32, free_port()?)
                        .and_then(|m| in_containerd(&ctr, rt, tag, &m, &html, dir));
                    measured.push(Measured {
                        name,
                        runs,
                        exits_per_request: [None, None],
                    });
                }
            }
            Err(e) => {
                let _ = writeln!(notes, "containerd rows skipped: {e:#}");
            }
        }
        let _ = Command::new("sh")
            .arg(&env_sh)
            .arg("stop")
            .arg(&cdir)
            .env("GVISOR_CNI_BRIDGE", &bridge)
            .status();

        // Exits per request: the same image as a bundle under `gvisor run
        // --stats` (the containerd shim's stats do not carry exits).
        let mut run_row = Measured {
            name: "gvisor run --stats",
            runs: Err(anyhow::anyhow!("not run")),
            exits_per_request: [None, None],
        };
        {
            {
                let mut ws = Vec::new();
                for (k, close) in [false, true].into_iter().enumerate() {
                    let r = Mapped::new(2 + k as u32, free_port()?).and_then(|m| {
                        let b = bundle(&image_tar, dir, &m, &html)?;
                        gvisor_run(gvisor, &b, &m, dir, close)
                    });
                    match r {
                        Ok((w, e)) => {
                            ws.push(w);
                            run_row.exits_per_request[k] = Some(e);
                        }
                        Err(e) => {
                            let _ = writeln!(notes, "gvisor run --stats: {e:#}");
                            break;
                        }
                    }
                }
                if let [a, b] = ws[..] {
                    run_row.runs = Ok([a, b]);
                }
            }
        }
        measured.push(run_row);

        // The report.
        let mut out = format!(
            "nginx, static page of {PAGE_BYTES} B, wrk -t2 -c16 -d{}s --latency (same run):\n",
            seconds()
        );
        let _ = writeln!(
            out,
            "| {:<20} | {:<9} | {:>10} | {:>9} | {:>9} | {:>9} | {:>10} | {:>9} | {:>11} | {:>7} |",
            "server",
            "mode",
            "req/s",
            "p99 ms",
            "vs native",
            "vs runc",
            "syscalls/r",
            "exits/r",
            "floor max/s",
            "of max"
        );
        let _ = writeln!(
            out,
            "|{:-<22}|{:-<11}|{:->12}|{:->11}|{:->11}|{:->11}|{:->12}|{:->11}|{:->13}|{:->9}|",
            "", "", "", "", "", "", "", "", "", ""
        );
        let get = |name: &str, k: usize| -> Option<Wrk> {
            measured
                .iter()
                .find(|m| m.name == name)
                .and_then(|m| m.runs.as_ref().ok())
                .map(|r| r[k])
        };
        for m in &measured {
            match &m.runs {
                Err(e) => {
                    let _ = writeln!(out, "| {:<20} | skipped: {e:#}", m.name);
                }
                Ok(runs) => {
                    for (k, mode) in ["keepalive", "close"].into_iter().enumerate() {
                        let w = runs[k];
                        let ratio = |other: Option<Wrk>| {
                            other
                                .map(|o| format!("{:.2}x", w.rps / o.rps))
                                .unwrap_or_else(|| "-".into())
                        };
                        let sc = syscalls[k];
                        // The floor-bound maximum: one core doing nothing
                        // but one bare exit per system call.
                        let max = sc.map(|sc| 1e6 / (floor_us * sc));
                        let sandboxed = m.name != "native" && m.name != "runc";
                        let _ = writeln!(
                            out,
                            "| {:<20} | {:<9} | {:>10.0} | {:>9.2} | {:>9} | {:>9} | {:>10} | {:>9} | {:>11} | {:>7} |",
                            m.name,
                            mode,
                            w.rps,
                            w.p99_ms,
                            ratio(get("native", k)),
                            ratio(get("runc", k)),
                            sc.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into()),
                            m.exits_per_request[k]
                                .map(|v| format!("{v:.1}"))
                                .unwrap_or_else(|| "-".into()),
                            match (sandboxed, max) {
                                (true, Some(x)) => format!("{x:.0}"),
                                _ => "-".into(),
                            },
                            match (sandboxed, max) {
                                (true, Some(x)) => format!("{:.0} %", 100.0 * w.rps / x),
                                _ => "-".into(),
                            },
                        );
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "syscalls/r: strace -c -f of the native nginx over a 2 s wrk run, less its start and stop; \
             exits/r: the sentry's exit counter (gvisor run --stats) over the run's requests, start and stop included; \
             floor max/s: 1 / (exit floor {floor_us:.2} µs x syscalls/r), one core; of max: req/s against it."
        );
        out.push_str(&notes);
        Ok(out)
    }
}
