//! The backend's statistics (containerd's cgroups v1 `Metrics`) as runc's
//! `events --stats` data (`types.Stats`: cpu, memory, pids).

use containerd_shim_protos::cgroups::metrics::Metrics;
use containerd_shim_protos::protobuf::Message as _;
use serde_json::json;

/// runc's stats object from an encoded `Metrics`.
pub fn runc_stats(encoded: &[u8]) -> Result<serde_json::Value, String> {
    let m = Metrics::parse_from_bytes(encoded).map_err(|e| format!("decoding metrics: {e}"))?;
    Ok(json!({
        "cpu": {
            "usage": {
                "total": m.cpu.usage.total,
                "percpu": m.cpu.usage.per_cpu,
                "kernel": m.cpu.usage.kernel,
                "user": m.cpu.usage.user,
            },
            "throttling": {
                "periods": m.cpu.throttling.periods,
                "throttledPeriods": m.cpu.throttling.throttled_periods,
                "throttledTime": m.cpu.throttling.throttled_time,
            },
        },
        "memory": {
            "cache": m.memory.cache,
            "usage": {
                "limit": m.memory.usage.limit,
                "usage": m.memory.usage.usage,
                "max": m.memory.usage.max,
                "failcnt": m.memory.usage.failcnt,
            },
            "raw": { "rss": m.memory.rss, "total_rss": m.memory.total_rss },
        },
        "pids": { "current": m.pids.current, "limit": m.pids.limit },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim_protos::cgroups::metrics::{CPUStat, CPUUsage, PidsStat};
    use containerd_shim_protos::protobuf::MessageField;

    #[test]
    fn metrics_become_runc_stats() {
        let m = Metrics {
            pids: MessageField::some(PidsStat {
                current: 3,
                limit: 10,
                ..Default::default()
            }),
            cpu: MessageField::some(CPUStat {
                usage: MessageField::some(CPUUsage {
                    total: 42,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = runc_stats(&m.write_to_bytes().unwrap()).unwrap();
        assert_eq!(s["pids"]["current"], 3);
        assert_eq!(s["pids"]["limit"], 10);
        assert_eq!(s["cpu"]["usage"]["total"], 42);
        assert!(runc_stats(b"\xff\xff").is_err());
    }
}
