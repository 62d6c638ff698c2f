//! The Task service driven by a stub backend, without containerd.

use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::MessageDyn;

use super::*;

/// Processes that "run" until killed or told to exit.
#[derive(Default)]
struct Stub {
    sinks: Mutex<HashMap<(String, String), ExitSink>>,
    created: Mutex<Vec<String>>,
    deleted: Mutex<Vec<(String, String)>>,
    paused: Mutex<Vec<(String, bool)>>,
    closed: Mutex<Vec<(String, String)>>,
}

impl Stub {
    fn exit(&self, id: &str, exec_id: &str, status: u32) {
        let sink = self
            .sinks
            .lock()
            .unwrap()
            .remove(&(id.to_string(), exec_id.to_string()));
        if let Some(s) = sink {
            s(status);
        }
    }
}

impl Backend for Stub {
    fn create(&self, req: &CreateTaskRequest) -> Result<(), BackendError> {
        if req.bundle == "/bad" {
            return Err(BackendError::Failed(format!(
                "{}/config.json: missing",
                req.bundle
            )));
        }
        self.created.lock().unwrap().push(req.id.clone());
        Ok(())
    }
    fn exec(&self, _: &str, _: &str, spec: &[u8], _: &Stdio) -> Result<(), BackendError> {
        if spec.is_empty() {
            return Err(BackendError::Invalid("empty process spec".into()));
        }
        Ok(())
    }
    fn start(&self, id: &str, exec_id: &str, exited: ExitSink) -> Result<u32, BackendError> {
        self.sinks
            .lock()
            .unwrap()
            .insert((id.into(), exec_id.into()), exited);
        Ok(if exec_id.is_empty() { 4242 } else { 4243 })
    }
    fn kill(&self, id: &str, exec_id: &str, signal: u32, _: bool) -> Result<(), BackendError> {
        self.exit(id, exec_id, 128 + signal);
        Ok(())
    }
    fn pids(&self, _id: &str) -> Result<Vec<u32>, BackendError> {
        Ok(vec![1, 2])
    }
    fn pause(&self, id: &str, pause: bool) -> Result<(), BackendError> {
        self.paused.lock().unwrap().push((id.into(), pause));
        Ok(())
    }
    fn resize(&self, _: &str, _: &str, w: u32, _: u32) -> Result<(), BackendError> {
        if w == 0 {
            return Err(BackendError::Invalid("width 0".into()));
        }
        Ok(())
    }
    fn close_stdin(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        self.closed
            .lock()
            .unwrap()
            .push((id.into(), exec_id.into()));
        Ok(())
    }
    fn stats(&self, _id: &str) -> Result<Any, BackendError> {
        Ok(Any {
            type_url: "test".into(),
            ..Default::default()
        })
    }
    fn update(&self, _: &str, r: &Any) -> Result<(), BackendError> {
        if r.value.is_empty() {
            return Err(BackendError::Invalid("no resources".into()));
        }
        Ok(())
    }
    fn delete(&self, id: &str, exec_id: &str) -> Result<(), BackendError> {
        self.deleted
            .lock()
            .unwrap()
            .push((id.into(), exec_id.into()));
        Ok(())
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<&'static str>>);

impl Events for Recorder {
    fn publish(&self, topic: &'static str, _event: Box<dyn MessageDyn>) {
        self.0.lock().unwrap().push(topic);
    }
}

fn code(e: ttrpc::Error) -> Code {
    match e {
        ttrpc::Error::RpcStatus(s) => s.code(),
        other => panic!("not a status: {other:?}"),
    }
}

fn create_req(id: &str, bundle: &str) -> CreateTaskRequest {
    CreateTaskRequest {
        id: id.into(),
        bundle: bundle.into(),
        stdout: "/run/fifo-out".into(),
        ..Default::default()
    }
}

fn req<T: Default>(f: impl FnOnce(&mut T)) -> T {
    let mut t = T::default();
    f(&mut t);
    t
}

fn service() -> (Arc<Stub>, Arc<Recorder>, Arc<TaskService<Stub>>) {
    let stub = Arc::new(Stub::default());
    let rec = Arc::new(Recorder::default());
    let svc = Arc::new(TaskService::new(stub.clone(), rec.clone()));
    (stub, rec, svc)
}

#[tokio::test]
async fn lifecycle_create_start_wait_delete() {
    let (stub, rec, svc) = service();
    svc.do_create(&create_req("c1", "/b")).unwrap();
    let st = svc
        .do_state(&req(|r: &mut StateRequest| r.id = "c1".into()))
        .unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::CREATED));
    assert_eq!(st.stdout, "/run/fifo-out");
    let started = svc
        .do_start(&req(|r: &mut StartRequest| r.id = "c1".into()))
        .unwrap();
    assert_eq!(started.pid, 4242);
    let again = svc.do_start(&req(|r: &mut StartRequest| r.id = "c1".into()));
    assert_eq!(code(again.unwrap_err()), Code::FAILED_PRECONDITION);
    let del = svc.do_delete(&req(|r: &mut DeleteRequest| r.id = "c1".into()));
    assert_eq!(code(del.unwrap_err()), Code::FAILED_PRECONDITION, "running");
    // Wait, then the exit arrives.
    let s2 = svc.clone();
    let waiter = tokio::spawn(async move {
        s2.do_wait(&req(|r: &mut WaitRequest| r.id = "c1".into()))
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    stub.exit("c1", "", 7);
    let w = waiter.await.unwrap().unwrap();
    assert_eq!(w.exit_status, 7);
    assert!(w.exited_at.is_some());
    // A Wait after the exit returns at once.
    let w2 = svc
        .do_wait(&req(|r: &mut WaitRequest| r.id = "c1".into()))
        .await
        .unwrap();
    assert_eq!(w2.exit_status, 7);
    let st = svc
        .do_state(&req(|r: &mut StateRequest| r.id = "c1".into()))
        .unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::STOPPED));
    assert!(st.exited_at.is_some());
    let kill = svc.do_kill(&req(|r: &mut KillRequest| {
        r.id = "c1".into();
        r.signal = 15;
    }));
    assert_eq!(code(kill.unwrap_err()), Code::NOT_FOUND, "finished");
    let d = svc
        .do_delete(&req(|r: &mut DeleteRequest| r.id = "c1".into()))
        .unwrap();
    assert_eq!((d.pid, d.exit_status), (4242, 7));
    assert_eq!(
        *stub.deleted.lock().unwrap(),
        [("c1".into(), String::new())]
    );
    let gone = svc.do_state(&req(|r: &mut StateRequest| r.id = "c1".into()));
    assert_eq!(code(gone.unwrap_err()), Code::NOT_FOUND);
    svc.do_shutdown(&ShutdownRequest::default());
    assert!(*svc.exit_requested.borrow());
    assert_eq!(
        *rec.0.lock().unwrap(),
        [
            topics::TASK_CREATE_EVENT_TOPIC,
            topics::TASK_START_EVENT_TOPIC,
            topics::TASK_EXIT_EVENT_TOPIC,
            topics::TASK_DELETE_EVENT_TOPIC
        ]
    );
}

#[tokio::test]
async fn kill_reports_128_plus_signal_and_errors_map_to_codes() {
    let (_stub, _rec, svc) = service();
    assert_eq!(
        code(svc.do_create(&create_req("", "/b")).unwrap_err()),
        Code::INVALID_ARGUMENT
    );
    assert_eq!(
        code(svc.do_create(&create_req("x", "/bad")).unwrap_err()),
        Code::INTERNAL
    );
    svc.do_create(&create_req("c2", "/b")).unwrap();
    assert_eq!(
        code(svc.do_create(&create_req("c2", "/b")).unwrap_err()),
        Code::ALREADY_EXISTS
    );
    svc.do_shutdown(&ShutdownRequest::default());
    assert!(!*svc.exit_requested.borrow(), "a container is left");
    svc.do_start(&req(|r: &mut StartRequest| r.id = "c2".into()))
        .unwrap();
    let pids = svc
        .do_pids(&req(|r: &mut PidsRequest| r.id = "c2".into()))
        .unwrap();
    assert_eq!(pids.processes.len(), 2);
    svc.do_kill(&req(|r: &mut KillRequest| {
        r.id = "c2".into();
        r.signal = 9;
    }))
    .unwrap();
    let w = svc
        .do_wait(&req(|r: &mut WaitRequest| r.id = "c2".into()))
        .await
        .unwrap();
    assert_eq!(w.exit_status, 137);
    assert_eq!(
        code(
            svc.do_kill(&req(|r: &mut KillRequest| r.id = "nope".into()))
                .unwrap_err()
        ),
        Code::NOT_FOUND
    );
    let cp = svc.do_exec(&req(|r: &mut ExecProcessRequest| {
        r.id = "c2".into();
        r.exec_id = "e".into();
    }));
    assert_eq!(code(cp.unwrap_err()), Code::FAILED_PRECONDITION, "stopped");
}

#[tokio::test]
async fn exec_pause_resize_close_stats_update() {
    let (stub, rec, svc) = service();
    svc.do_create(&create_req("c", "/b")).unwrap();
    let exec = |id: &str, spec: &[u8]| {
        svc.do_exec(&req(|r: &mut ExecProcessRequest| {
            r.id = "c".into();
            r.exec_id = id.into();
            r.spec = MessageField::some(Any {
                value: spec.to_vec(),
                ..Default::default()
            });
        }))
    };
    assert_eq!(
        code(exec("e1", b"{}").unwrap_err()),
        Code::FAILED_PRECONDITION,
        "not started"
    );
    svc.do_start(&req(|r: &mut StartRequest| r.id = "c".into()))
        .unwrap();
    assert_eq!(code(exec("e1", b"").unwrap_err()), Code::INVALID_ARGUMENT);
    exec("e1", b"{}").unwrap();
    assert_eq!(code(exec("e1", b"{}").unwrap_err()), Code::ALREADY_EXISTS);
    let st = svc
        .do_state(&req(|r: &mut StateRequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
        }))
        .unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::CREATED));
    let p = svc
        .do_start(&req(|r: &mut StartRequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
        }))
        .unwrap();
    assert_eq!(p.pid, 4243);
    // Pause stops the container and its exec; resume undoes it.
    svc.do_pause("c", true).unwrap();
    assert_eq!(
        code(svc.do_pause("c", true).unwrap_err()),
        Code::FAILED_PRECONDITION
    );
    let st = svc
        .do_state(&req(|r: &mut StateRequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
        }))
        .unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::PAUSED));
    svc.do_pause("c", false).unwrap();
    assert_eq!(
        *stub.paused.lock().unwrap(),
        [("c".into(), true), ("c".into(), false)]
    );
    svc.do_resize(&req(|r: &mut ResizePtyRequest| {
        r.id = "c".into();
        r.exec_id = "e1".into();
        r.width = 80;
        r.height = 24;
    }))
    .unwrap();
    let bad = svc.do_resize(&req(|r: &mut ResizePtyRequest| {
        r.id = "c".into();
        r.exec_id = "nope".into();
    }));
    assert_eq!(code(bad.unwrap_err()), Code::NOT_FOUND);
    svc.do_close_io(&req(|r: &mut CloseIORequest| {
        r.id = "c".into();
        r.exec_id = "e1".into();
        r.stdin = true;
    }))
    .unwrap();
    assert_eq!(
        *stub.closed.lock().unwrap(),
        [("c".to_string(), "e1".to_string())]
    );
    let s = svc
        .do_stats(&req(|r: &mut StatsRequest| r.id = "c".into()))
        .unwrap();
    assert_eq!(s.stats.type_url, "test");
    let u = svc.do_update(&req(|r: &mut UpdateTaskRequest| r.id = "c".into()));
    assert_eq!(code(u.unwrap_err()), Code::INVALID_ARGUMENT);
    // The exec ends and is deleted on its own; the container runs on.
    stub.exit("c", "e1", 3);
    let w = svc
        .do_wait(&req(|r: &mut WaitRequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
        }))
        .await
        .unwrap();
    assert_eq!(w.exit_status, 3);
    let d = svc
        .do_delete(&req(|r: &mut DeleteRequest| {
            r.id = "c".into();
            r.exec_id = "e1".into();
        }))
        .unwrap();
    assert_eq!((d.pid, d.exit_status), (4243, 3));
    let st = svc
        .do_state(&req(|r: &mut StateRequest| r.id = "c".into()))
        .unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));
    assert_eq!(
        *rec.0.lock().unwrap(),
        [
            topics::TASK_CREATE_EVENT_TOPIC,
            topics::TASK_START_EVENT_TOPIC,
            topics::TASK_EXEC_ADDED_EVENT_TOPIC,
            topics::TASK_EXEC_STARTED_EVENT_TOPIC,
            topics::TASK_PAUSED_EVENT_TOPIC,
            topics::TASK_RESUMED_EVENT_TOPIC,
            topics::TASK_EXIT_EVENT_TOPIC,
        ]
    );
}
