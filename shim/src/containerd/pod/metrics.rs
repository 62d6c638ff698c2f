//! Task statistics in containerd's cgroups v1 `Metrics` message.

use containerd_shim_protos::cgroups::metrics::{
    CPUStat, CPUUsage, MemoryEntry, MemoryOomControl, MemoryStat, Metrics, PidsStat,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message as _, MessageField};

use crate::cgroup::Usage;
use crate::containerd::backend::BackendError;
use crate::control::Usage as SentryUsage;

/// Container figures come from the sentry (`r`: its processes' CPU time
/// and resident memory; `pids` processes); the sandbox's cgroup (`cg`)
/// gives memory usage and limit of the whole pod (sentry + gofers, host
/// view).
pub(super) fn encode(r: &SentryUsage, pids: u64, cg: &Usage) -> Result<Any, BackendError> {
    let m = Metrics {
        pids: MessageField::some(PidsStat {
            current: pids,
            limit: cg.pids_limit,
            ..Default::default()
        }),
        cpu: MessageField::some(CPUStat {
            usage: MessageField::some(CPUUsage {
                total: r.cpu_ns,
                user: r.cpu_ns,
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory: MessageField::some(MemoryStat {
            rss: r.memory_bytes,
            total_rss: r.memory_bytes,
            usage: MessageField::some(MemoryEntry {
                usage: if cg.memory > 0 {
                    cg.memory
                } else {
                    r.sandbox_memory_bytes
                },
                limit: cg.memory_limit,
                max: cg.memory_max,
                ..Default::default()
            }),
            ..Default::default()
        }),
        memory_oom_control: MessageField::some(MemoryOomControl {
            oom_kill: cg.oom_kills,
            ..Default::default()
        }),
        ..Default::default()
    };
    let value = m
        .write_to_bytes()
        .map_err(|e| BackendError::Failed(format!("encoding metrics: {e}")))?;
    Ok(Any {
        type_url: "io.containerd.cgroups.v1.Metrics".into(),
        value,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use containerd_shim_protos::protobuf::Message as _;

    use super::*;

    #[test]
    fn sentry_figures_and_the_cgroup_fill_the_metrics() {
        let r = SentryUsage {
            cpu_ns: 5,
            memory_bytes: 4096,
            sandbox_memory_bytes: 8192,
        };
        let decode = |a: Any| {
            assert_eq!(a.type_url, "io.containerd.cgroups.v1.Metrics");
            Metrics::parse_from_bytes(&a.value).unwrap()
        };
        // Without a cgroup, the sandbox's memory file is the pod's usage.
        let m = decode(encode(&r, 2, &Usage::default()).unwrap());
        assert_eq!(m.pids.current, 2);
        assert_eq!(m.cpu.usage.total, 5);
        assert_eq!(m.memory.rss, 4096);
        assert_eq!(m.memory.usage.usage, 8192);
        let cg = Usage {
            memory: 1 << 20,
            memory_limit: 1 << 30,
            pids_limit: 64,
            oom_kills: 1,
            ..Default::default()
        };
        let m = decode(encode(&r, 2, &cg).unwrap());
        assert_eq!(m.memory.usage.usage, 1 << 20);
        assert_eq!(m.memory.usage.limit, 1 << 30);
        assert_eq!(m.pids.limit, 64);
        assert_eq!(m.memory_oom_control.oom_kill, 1);
    }
}
