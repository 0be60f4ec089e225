//! The process-wide registry of running service instances (`tomodachi.get_service`).

use std::any::Any;
use std::sync::{Arc, Mutex};

use super::transport::ServiceInfo;

type Entry = (String, Arc<dyn Any + Send + Sync>);

static INFOS: Mutex<Vec<ServiceInfo>> = Mutex::new(Vec::new());

tokio::task_local! {
    /// The service whose handler is running (publishing from a handler uses its identity).
    static CURRENT: ServiceInfo;
}

/// Registers a starting service's identity and options.
pub(crate) fn register_info(info: ServiceInfo) {
    if let Ok(mut infos) = INFOS.lock() {
        infos.push(info);
    }
}

/// Forgets a stopped service.
pub(crate) fn unregister_info(info: &ServiceInfo) {
    if let Ok(mut infos) = INFOS.lock() {
        infos.retain(|i| !(Arc::ptr_eq(&i.name, &info.name) && Arc::ptr_eq(&i.uuid, &info.uuid)));
    }
}

/// Runs `future` as a handler of `info`'s service.
pub(crate) fn scope<F: std::future::Future>(
    info: ServiceInfo,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    CURRENT.scope(info, future)
}

/// The running service named `name`; without a name, the service whose handler is running,
/// else the most recently started one.
pub(crate) fn current_info(name: Option<&str>) -> Option<ServiceInfo> {
    let infos = INFOS.lock().ok()?;
    match name {
        Some(name) => infos.iter().rev().find(|i| &*i.name == name).cloned(),
        None => CURRENT
            .try_with(ServiceInfo::clone)
            .ok()
            .or_else(|| infos.last().cloned()),
    }
}

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

pub(crate) fn register(name: &str, state: Arc<dyn Any + Send + Sync>) {
    if let Ok(mut reg) = REGISTRY.lock() {
        reg.retain(|(n, _)| n != name);
        reg.push((name.to_owned(), state));
    }
}

pub(crate) fn unregister(name: &str, state: &Arc<dyn Any + Send + Sync>) {
    if let Ok(mut reg) = REGISTRY.lock() {
        reg.retain(|(n, s)| !(n == name && Arc::ptr_eq(s, state)));
    }
}

/// The running service instance registered under `name` (the most recently started one when
/// `name` is `None`), if it is a `T`.
///
/// ```no_run
/// # struct Counter;
/// if let Some(counter) = tomodachi::get_service::<Counter>(Some("counter")) {
///     // use the running instance
/// }
/// ```
pub fn get_service<T: Send + Sync + 'static>(name: Option<&str>) -> Option<Arc<T>> {
    let reg = REGISTRY.lock().ok()?;
    let entry = match name {
        Some(name) => reg.iter().find(|(n, _)| n == name),
        None => reg.last(),
    }?;
    entry.1.clone().downcast::<T>().ok()
}

/// Names of the running services, in start order.
pub fn service_names() -> Vec<String> {
    REGISTRY
        .lock()
        .map(|reg| reg.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_name_and_type() {
        let a: Arc<dyn Any + Send + Sync> = Arc::new(5u32);
        register("registry-test-a", a.clone());
        assert_eq!(*get_service::<u32>(Some("registry-test-a")).unwrap(), 5);
        assert!(get_service::<String>(Some("registry-test-a")).is_none());
        unregister("registry-test-a", &a);
        assert!(get_service::<u32>(Some("registry-test-a")).is_none());
    }
}
