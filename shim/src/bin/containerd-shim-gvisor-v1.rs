//! containerd's runtime `io.containerd.gvisor.v1` (see `shim::containerd`).

fn main() -> std::process::ExitCode {
    shim::containerd::main()
}
