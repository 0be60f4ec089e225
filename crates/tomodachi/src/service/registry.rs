//! The process-wide registry of running service instances (`tomodachi.get_service`).

use std::any::Any;
use std::sync::{Arc, Mutex};

type Entry = (String, Arc<dyn Any + Send + Sync>);

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

/// A custom attribute of the running service (the one whose handler is running, else the most
/// recently started), deserialized into `T`: set with
/// [`ServiceBuilder::attribute`](crate::ServiceBuilder::attribute) and by the config files' other
/// top-level keys (`-c config.json` with `{"greeting": "hej"}`). `None` when unset, when no service
/// runs, or when the value is not a `T`.
///
/// ```no_run
/// let greeting: String = tomodachi::service_attribute("greeting").unwrap_or_else(|| "hello".into());
/// ```
pub fn service_attribute<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    let ctx = crate::transport::TransportContext::current(None)?;
    let value = ctx.attribute(key)?;
    T::deserialize(value).ok()
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
