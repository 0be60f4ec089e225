//! [`Extension`]: a typed value a middleware hands to the handler.

/// A value a middleware put into the request's or the message's extensions, as a handler
/// argument; a missing value is an error (a wiring bug: HTTP answers 500).
///
/// ```
/// use tomodachi::http::Extension;
/// #[derive(Clone)]
/// struct User(String);
///
/// async fn whoami(Extension(user): Extension<User>) -> String {
///     user.0
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extension<T>(pub T);
