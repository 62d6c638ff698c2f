//! The KVM platform adapter over `kvm-vcpu`.

use std::any::Any;
use std::sync::Arc;

use kvm_vcpu::{Vcpu, VcpuExit, Vm, VmConfig};

use super::{
    Access, AddressSpace, Context, Event, FpuState, Interrupter, MemoryFile, Perms, Platform,
    PlatformError, Registers,
};

/// gvisor-rs on KVM.
pub struct KvmPlatform {
    vm: Arc<Vm>,
}

impl KvmPlatform {
    /// Opens `/dev/kvm` and creates the sandbox's VM.
    pub fn new(config: VmConfig) -> Result<Self, PlatformError> {
        Ok(KvmPlatform {
            vm: Vm::new(config)?,
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> kvm_vcpu::Backend {
        self.vm.backend()
    }
}

struct KvmAddressSpace(kvm_vcpu::AddressSpace);

impl AddressSpace for KvmAddressSpace {
    fn map(&self, va: u64, file_off: u64, len: u64, perms: Perms) -> Result<(), PlatformError> {
        Ok(self.0.map(va, file_off, len, perms)?)
    }
    fn map_pages(&self, pages: &[(u64, u64)], perms: Perms) -> Result<(), PlatformError> {
        Ok(self.0.map_pages(pages, perms)?)
    }
    fn protect(&self, va: u64, len: u64, perms: Perms) -> Result<(), PlatformError> {
        Ok(self.0.protect(va, len, perms)?)
    }
    fn unmap(&self, va: u64, len: u64) -> Result<(), PlatformError> {
        Ok(self.0.unmap(va, len)?)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct KvmContext {
    vm: Arc<Vm>,
    vcpu: Option<Vcpu>,
}

impl Drop for KvmContext {
    fn drop(&mut self) {
        if let Some(v) = self.vcpu.take() {
            self.vm.release_vcpu(v);
        }
    }
}

impl Context for KvmContext {
    fn switch(
        &mut self,
        regs: &mut Registers,
        _fpu: &mut FpuState,
        space: &dyn AddressSpace,
    ) -> Result<Event, PlatformError> {
        let space = space
            .as_any()
            .downcast_ref::<KvmAddressSpace>()
            .ok_or_else(|| PlatformError::Unsupported("foreign address space".into()))?;
        let vcpu = self
            .vcpu
            .as_mut()
            .ok_or_else(|| PlatformError::Unsupported("context without a vCPU".into()))?;
        // The task's FPU state lives in the vCPU this context owns for its
        // whole life, so nothing moves here (see docs/ARCHITECTURE.md).
        Ok(match vcpu.run(regs, &space.0)? {
            VcpuExit::Syscall => Event::Syscall,
            VcpuExit::Exception {
                vector: 14,
                error_code,
                cr2,
            } => Event::Fault {
                addr: cr2,
                access: if error_code & 0x10 != 0 {
                    Access::Exec
                } else if error_code & 0x2 != 0 {
                    Access::Write
                } else {
                    Access::Read
                },
                present: error_code & 1 != 0,
            },
            VcpuExit::Exception {
                vector, error_code, ..
            } => Event::Exception {
                vector,
                code: error_code,
            },
            VcpuExit::Interrupted => Event::Interrupted,
        })
    }

    fn interrupter(&self) -> Interrupter {
        match &self.vcpu {
            Some(v) => {
                let i = v.interrupter();
                Interrupter::new(move || i.interrupt())
            }
            None => Interrupter::new(|| {}),
        }
    }

    fn exits(&self) -> u64 {
        self.vcpu.as_ref().map_or(0, |v| v.exits())
    }

    fn flush(&mut self, space: &dyn AddressSpace) -> Result<(), PlatformError> {
        let space = space
            .as_any()
            .downcast_ref::<KvmAddressSpace>()
            .ok_or_else(|| PlatformError::Unsupported("foreign address space".into()))?;
        let vcpu = self
            .vcpu
            .as_mut()
            .ok_or_else(|| PlatformError::Unsupported("context without a vCPU".into()))?;
        Ok(vcpu.flush(&space.0)?)
    }

    fn save_fpu(&mut self) -> Result<Vec<u8>, PlatformError> {
        let v = self
            .vcpu
            .as_ref()
            .ok_or_else(|| PlatformError::Unsupported("context without a vCPU".into()))?;
        let x = v.get_fpu()?;
        Ok(x.region.iter().flat_map(|w| w.to_le_bytes()).collect())
    }

    fn restore_fpu(&mut self, state: &[u8]) -> Result<(), PlatformError> {
        let v = self
            .vcpu
            .as_ref()
            .ok_or_else(|| PlatformError::Unsupported("context without a vCPU".into()))?;
        let mut x = v.get_fpu()?;
        for (i, c) in state.chunks(4).take(x.region.len()).enumerate() {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            x.region[i] = u32::from_le_bytes(w);
        }
        Ok(v.set_fpu(&x)?)
    }
}

impl Platform for KvmPlatform {
    fn describe(&self) -> String {
        format!("KVM, {}", self.vm.backend())
    }
    fn memory(&self) -> &Arc<MemoryFile> {
        self.vm.memory()
    }
    fn new_address_space(&self) -> Result<Arc<dyn AddressSpace>, PlatformError> {
        Ok(Arc::new(KvmAddressSpace(self.vm.new_address_space()?)))
    }
    fn new_context(&self) -> Result<Box<dyn Context>, PlatformError> {
        Ok(Box::new(KvmContext {
            vm: self.vm.clone(),
            vcpu: Some(self.vm.acquire_vcpu()?),
        }))
    }
}
