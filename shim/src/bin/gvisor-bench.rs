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
