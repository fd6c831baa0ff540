//! One background tokio runtime per test binary, shared by every in-process server.

use std::sync::OnceLock;

use tokio::runtime::Runtime;

/// The shared runtime; servers spawn onto it and abort their tasks on drop.
pub fn rt() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("test-servers")
            .enable_all()
            .build()
            .expect("build test runtime")
    })
}
