//! End to end through containerd's CRI plugin with a Rust CRI client
//! (k8s-cri over tonic): a pod with runtime handler `gvisor` and two
//! containers that share one sentry and an emptyDir-like host directory.
//!
//! Requires what tests/containerd.rs does, and protoc at build time.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use gvisor_tests::ctrd::Containerd;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatusRequest,
    CreateContainerRequest, ExecSyncRequest, ImageSpec, LinuxContainerResources,
    LinuxPodSandboxConfig, LinuxSandboxSecurityContext, Mount, NamespaceMode, NamespaceOption,
    PodSandboxConfig, PodSandboxMetadata, RemovePodSandboxRequest, RunPodSandboxRequest,
    StartContainerRequest, StopPodSandboxRequest, UpdateContainerResourcesRequest,
};
use tonic::transport::{Channel, Endpoint};

const IMAGE: &str = "docker.io/library/busybox:latest";

async fn connect(sock: &Path) -> RuntimeServiceClient<Channel> {
    let sock = sock.to_path_buf();
    let ch = Endpoint::try_from("http://[::]:50051")
        .expect("endpoint")
        .connect_with_connector(tower::service_fn(move |_| {
            let p = sock.clone();
            async move { tokio::net::UnixStream::connect(p).await.map(TokioIo::new) }
        }))
        .await
        .expect("connecting to containerd's CRI socket");
    RuntimeServiceClient::new(ch)
}

/// The shim serving pod `id`, and the argv0 of each of its children.
fn shim_children(id: &str) -> Option<(i32, Vec<String>)> {
    let needle = format!("-id {id} ");
    let all = gvisor_tests::ctrd::processes();
    let shim = all
        .iter()
        .find(|p| p.cmdline.contains(&needle) && p.argv0.contains("containerd-shim-gvisor-v1"))?
        .pid;
    let mut kids: Vec<String> = all
        .into_iter()
        .filter(|p| p.ppid == shim)
        .map(|p| p.argv0)
        .collect();
    kids.sort();
    Some((shim, kids))
}

fn container(name: &str, cmd: &str, data: &Path) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: IMAGE.into(),
            ..Default::default()
        }),
        command: vec!["sh".into(), "-c".into(), cmd.into()],
        mounts: vec![Mount {
            container_path: "/data".into(),
            host_path: data.display().to_string(),
            ..Default::default()
        }],
        log_path: format!("{name}.log"),
        ..Default::default()
    }
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn pod_of_two_containers_shares_one_sentry() {
    let c = Containerd::start();
    let mut cri = connect(&c.socket()).await;
    let logs = c.dir.join("pod-logs");
    let data = c.dir.join("empty-dir");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(&data).unwrap();
    let pod_config = PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: "two".into(),
            uid: "uid-two".into(),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: "gvpod".into(),
        log_directory: logs.display().to_string(),
        labels: HashMap::new(),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: "/gvisor-e2e".into(),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: Some(NamespaceOption {
                    // No CNI here: the pod uses the node's network namespace
                    // (the sandbox has no network stack anyway).
                    network: NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pod = cri
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(pod_config.clone()),
            runtime_handler: "gvisor".into(),
        })
        .await
        .unwrap_or_else(|e| panic!("RunPodSandbox: {e}\n{}", c.log_tail()))
        .into_inner()
        .pod_sandbox_id;
    let mut ids = Vec::new();
    for (name, cmd) in [
        (
            "writer",
            "echo shared-data > /data/f; echo writer-started; sleep 1000",
        ),
        (
            "reader",
            "while [ ! -f /data/f ]; do sleep 0.1; done; cat /data/f; hostname; sleep 1000",
        ),
    ] {
        let id = cri
            .create_container(CreateContainerRequest {
                pod_sandbox_id: pod.clone(),
                config: Some(container(name, cmd, &data)),
                sandbox_config: Some(pod_config.clone()),
            })
            .await
            .unwrap_or_else(|e| panic!("CreateContainer {name}: {e}\n{}", c.log_tail()))
            .into_inner()
            .container_id;
        cri.start_container(StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .unwrap_or_else(|e| panic!("StartContainer {name}: {e}\n{}", c.log_tail()));
        ids.push(id);
    }
    // The reader sees the writer's file through the shared directory; both
    // log through CRI log files.
    let reader_log = logs.join("reader.log");
    wait_for("the reader's log", Duration::from_secs(30), || {
        std::fs::read_to_string(&reader_log).is_ok_and(|l| l.contains(" stdout F gvpod"))
    })
    .await;
    let log = std::fs::read_to_string(&reader_log).unwrap();
    assert!(log.contains(" stdout F shared-data"), "{log}");
    let wlog = std::fs::read_to_string(logs.join("writer.log")).unwrap_or_default();
    assert!(wlog.contains(" stdout F writer-started"), "{wlog}");
    // One shim with one sentry and a gofer per container (pause included).
    let (_, kids) = shim_children(&pod).expect("the pod's shim is running");
    assert_eq!(
        kids,
        [
            "gvisor-gofer",
            "gvisor-gofer",
            "gvisor-gofer",
            "gvisor-sentry"
        ],
        "one sentry for the pod"
    );
    for id in &ids {
        let st = cri
            .container_status(ContainerStatusRequest {
                container_id: id.clone(),
                verbose: false,
            })
            .await
            .expect("ContainerStatus")
            .into_inner()
            .status
            .expect("a status");
        assert_eq!(st.state, ContainerState::ContainerRunning as i32, "{st:?}");
    }
    // ExecSync in one container sees the other's file, and its exit code.
    let r = cri
        .exec_sync(ExecSyncRequest {
            container_id: ids[1].clone(),
            cmd: vec!["cat".into(), "/data/f".into()],
            timeout: 20,
        })
        .await
        .unwrap_or_else(|e| panic!("ExecSync: {e}\n{}", c.log_tail()))
        .into_inner();
    assert_eq!(String::from_utf8_lossy(&r.stdout), "shared-data\n");
    assert_eq!(r.exit_code, 0);
    let r = cri
        .exec_sync(ExecSyncRequest {
            container_id: ids[0].clone(),
            cmd: vec!["sh".into(), "-c".into(), "echo oops >&2; exit 3".into()],
            timeout: 20,
        })
        .await
        .expect("ExecSync")
        .into_inner();
    assert_eq!(
        (r.exit_code, String::from_utf8_lossy(&r.stderr).as_ref()),
        (3, "oops\n")
    );
    // The pod's sandbox runs in the cgroup CRI named; an update of a
    // container's resources reaches it.
    let v1 = Path::new("/sys/fs/cgroup/memory/gvisor-e2e").join(&pod);
    let v2 = Path::new("/sys/fs/cgroup/gvisor-e2e").join(&pod);
    let limit_file = if v1.is_dir() {
        v1.join("memory.limit_in_bytes")
    } else {
        v2.join("memory.max")
    };
    assert!(
        limit_file.exists(),
        "no sandbox cgroup at {}",
        limit_file.display()
    );
    cri.update_container_resources(UpdateContainerResourcesRequest {
        container_id: ids[0].clone(),
        linux: Some(LinuxContainerResources {
            memory_limit_in_bytes: 256 << 20,
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("UpdateContainerResources: {e}\n{}", c.log_tail()));
    assert_eq!(
        std::fs::read_to_string(&limit_file).unwrap().trim(),
        (256u64 << 20).to_string()
    );
    // Stop and remove: nothing of the pod is left.
    cri.stop_pod_sandbox(StopPodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap_or_else(|e| panic!("StopPodSandbox: {e}\n{}", c.log_tail()));
    cri.remove_pod_sandbox(RemovePodSandboxRequest {
        pod_sandbox_id: pod.clone(),
    })
    .await
    .unwrap_or_else(|e| panic!("RemovePodSandbox: {e}\n{}", c.log_tail()));
    wait_for("the pod's shim to exit", Duration::from_secs(20), || {
        shim_children(&pod).is_none()
    })
    .await;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let state = c.dir.join("state");
    let left: Vec<&str> = mounts
        .lines()
        .filter(|l| l.contains(&pod) || ids.iter().any(|i| l.contains(i.as_str())))
        .collect();
    assert!(left.is_empty(), "mounts left: {left:?}");
    let bundles = state.join("io.containerd.runtime.v2.task/k8s.io");
    for id in ids.iter().chain(std::iter::once(&pod)) {
        assert!(!bundles.join(id).exists(), "bundle of {id} left");
    }
    for ctl in ["memory", "pids", "cpu"] {
        let cg = Path::new("/sys/fs/cgroup")
            .join(ctl)
            .join("gvisor-e2e")
            .join(&pod);
        assert!(!cg.exists(), "cgroup {} left", cg.display());
    }
}
