//! How a transport describes its registrations for the API documents ([`crate::apidoc`]):
//! message channels (AsyncAPI), HTTP routes (OpenAPI), scheduled functions (documentation
//! only) and the servers it connects to.
//!
//! Every [`Transport`](super::Transport) answers [`describe`](super::Transport::describe)
//! (nothing by default); the core transports and `tomodachi-nats` describe themselves with
//! these types, and so can a transport of your own:
//!
//! ```
//! use tomodachi::transport::{ChannelDescription, Description, MessageDescription};
//!
//! let d = Description::Channel(
//!     ChannelDescription::new("nats", "orders.created", "on_order")
//!         .description("orders as they are created")
//!         .operation_binding("nats", serde_json::json!({"queue": "orders"}))
//!         .message(MessageDescription::new().envelope(Some("JsonBase"))),
//! );
//! assert!(matches!(d, Description::Channel(ref c) if c.address.as_deref() == Some("orders.created")));
//! ```

use serde_json::{Map, Value};

/// One thing a transport registered, as the API documents show it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Description {
    /// A message subscription: an AsyncAPI channel with a `receive` operation.
    Channel(ChannelDescription),
    /// An HTTP route: an OpenAPI path operation.
    Route(RouteDescription),
    /// A scheduled function (no protocol: listed as documentation).
    Schedule(ScheduleDescription),
    /// A server or broker the transport connects to: an AsyncAPI server.
    Server(ServerDescription),
}

/// A message subscription: where messages come from, how they are consumed, what they hold.
///
/// ```
/// use tomodachi::transport::ChannelDescription;
/// let c = ChannelDescription::new("amqp", "order.created", "on_order").summary("new orders");
/// assert_eq!(c.protocol, "amqp");
/// assert_eq!(c.handler, "on_order");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ChannelDescription {
    /// The AsyncAPI protocol (`"amqp"`, `"sns"`, `"sqs"`, `"nats"`, `"ws"`).
    pub protocol: String,
    /// The channel's address: a routing key, topic, queue, subject or path (`None`: known only
    /// at run time).
    pub address: Option<String>,
    /// The handler's name (the operation's id).
    pub handler: String,
    /// A one-line summary of the operation.
    pub summary: Option<String>,
    /// A longer description of the operation.
    pub description: Option<String>,
    /// AsyncAPI channel bindings, by protocol (`{"amqp": {...}}`).
    pub channel_bindings: Map<String, Value>,
    /// AsyncAPI operation bindings, by protocol.
    pub operation_bindings: Map<String, Value>,
    /// The messages the handler receives.
    pub message: MessageDescription,
}

impl ChannelDescription {
    /// A channel of `protocol` at `address`, consumed by `handler`.
    pub fn new(
        protocol: impl Into<String>,
        address: impl Into<String>,
        handler: impl Into<String>,
    ) -> Self {
        Self {
            protocol: protocol.into(),
            address: Some(address.into()),
            handler: handler.into(),
            summary: None,
            description: None,
            channel_bindings: Map::new(),
            operation_bindings: Map::new(),
            message: MessageDescription::new(),
        }
    }

    /// Sets the address (`None`: known only at run time).
    pub fn address(mut self, address: Option<String>) -> Self {
        self.address = address;
        self
    }

    /// Sets the one-line summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a channel binding for `protocol` (an AsyncAPI bindings object).
    pub fn channel_binding(mut self, protocol: impl Into<String>, binding: Value) -> Self {
        self.channel_bindings.insert(protocol.into(), binding);
        self
    }

    /// Adds an operation binding for `protocol` (an AsyncAPI bindings object).
    pub fn operation_binding(mut self, protocol: impl Into<String>, binding: Value) -> Self {
        self.operation_bindings.insert(protocol.into(), binding);
        self
    }

    /// Puts the handler's own documentation first: its first line becomes the summary and
    /// the whole text leads the description (`None`: unchanged).
    ///
    /// ```
    /// use tomodachi::transport::ChannelDescription;
    /// let c = ChannelDescription::new("amqp", "k", "h")
    ///     .description("bound to amq.topic")
    ///     .documented(Some("Counts orders.\n\nEvery one."));
    /// assert_eq!(c.summary.as_deref(), Some("Counts orders."));
    /// assert_eq!(c.description.as_deref(), Some("Counts orders.\n\nEvery one.\n\nbound to amq.topic"));
    /// ```
    pub fn documented(mut self, doc: Option<&str>) -> Self {
        if let Some(doc) = doc.map(str::trim).filter(|d| !d.is_empty()) {
            self.summary = doc.lines().next().map(|l| l.trim().to_owned());
            self.description = Some(match self.description.take() {
                Some(generated) => format!("{doc}\n\n{generated}"),
                None => doc.to_owned(),
            });
        }
        self
    }

    /// Sets the message description.
    pub fn message(mut self, message: MessageDescription) -> Self {
        self.message = message;
        self
    }
}

/// The messages of a channel: the envelope they travel in and the schema of their data.
///
/// ```
/// use tomodachi::transport::MessageDescription;
/// let m = MessageDescription::new()
///     .envelope(Some("JsonBase"))
///     .data_schema(Some(serde_json::json!({"type": "object"})));
/// assert_eq!(m.envelope.as_deref(), Some("JsonBase"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct MessageDescription {
    /// The envelope's name ([`Envelope::name`](crate::envelope::Envelope::name)); `None` for
    /// raw messages.
    pub envelope: Option<String>,
    /// The JSON Schema of the data inside the envelope (`None`: not described).
    pub data_schema: Option<Value>,
}

impl MessageDescription {
    /// Raw messages with undescribed data.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the envelope's name (`None`: raw).
    pub fn envelope(mut self, envelope: Option<impl Into<String>>) -> Self {
        self.envelope = envelope.map(Into::into);
        self
    }

    /// Sets the data's JSON Schema.
    pub fn data_schema(mut self, schema: Option<Value>) -> Self {
        self.data_schema = schema;
        self
    }
}

/// The kind of an HTTP route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteKind {
    /// A handler.
    Handler,
    /// A websocket (`GET` with the handshake).
    WebSocket,
    /// Static files.
    StaticFiles,
}

/// An HTTP route: its methods, regex pattern and named groups, and the schemas attached to it.
///
/// ```
/// use tomodachi::transport::{RouteDescription, RouteKind};
/// let r = RouteDescription::new(["GET"], r"/items/(?P<id>\d+)", "item");
/// assert_eq!(r.kind, RouteKind::Handler);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RouteDescription {
    /// The methods (upper-case; the `HEAD` implied by `GET` is left out).
    pub methods: Vec<String>,
    /// The route's regex pattern as registered.
    pub pattern: String,
    /// The handler's name.
    pub handler: String,
    /// Handler, websocket or static files.
    pub kind: RouteKind,
    /// A one-line summary.
    pub summary: Option<String>,
    /// A longer description.
    pub description: Option<String>,
    /// The JSON Schema of a JSON request body.
    pub request_schema: Option<Value>,
    /// The JSON Schema of the JSON response body.
    pub response_schema: Option<Value>,
}

impl RouteDescription {
    /// A handler route for `methods` on `pattern`.
    pub fn new<M: Into<String>>(
        methods: impl IntoIterator<Item = M>,
        pattern: impl Into<String>,
        handler: impl Into<String>,
    ) -> Self {
        Self {
            methods: methods.into_iter().map(Into::into).collect(),
            pattern: pattern.into(),
            handler: handler.into(),
            kind: RouteKind::Handler,
            summary: None,
            description: None,
            request_schema: None,
            response_schema: None,
        }
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: RouteKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the one-line summary.
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the request body's JSON Schema.
    pub fn request_schema(mut self, schema: Option<Value>) -> Self {
        self.request_schema = schema;
        self
    }

    /// Sets the response body's JSON Schema.
    pub fn response_schema(mut self, schema: Option<Value>) -> Self {
        self.response_schema = schema;
        self
    }

    /// The route's pattern as a path template (OpenAPI's and AsyncAPI's `{name}` form) and its
    /// named groups with their regexes: each named group becomes `{name}`, escaped characters
    /// lose their backslash, an optional slash (`/?`) and the anchors are dropped; other regex
    /// syntax is kept as written.
    ///
    /// ```
    /// use tomodachi::transport::RouteDescription;
    /// let r = RouteDescription::new(["GET"], r"^/resource/(?P<id>\d+)/(?P<name>[^/]+?)\.json/?$", "r");
    /// let (path, params) = r.path_template();
    /// assert_eq!(path, "/resource/{id}/{name}.json");
    /// assert_eq!(params[0].name, "id");
    /// assert_eq!(params[0].pattern, r"\d+");
    /// ```
    pub fn path_template(&self) -> (String, Vec<PathParameter>) {
        path_template(&self.pattern)
    }
}

/// A named group of a route pattern: a path parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathParameter {
    /// The group's name.
    pub name: String,
    /// The group's regex.
    pub pattern: String,
}

/// The end (exclusive) of the group that starts after `start` (the index just past its `(`).
fn group_end(chars: &[char], start: usize) -> usize {
    let (mut depth, mut i, mut in_class) = (1usize, start, false);
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '(' if !in_class => depth += 1,
            ')' if !in_class => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        i += 1;
    }
    chars.len()
}

fn path_template(pattern: &str) -> (String, Vec<PathParameter>) {
    let mut p = pattern.strip_prefix('^').unwrap_or(pattern);
    if let Some(rest) = p.strip_suffix('$') {
        if (rest.len() - rest.trim_end_matches('\\').len()) % 2 == 0 {
            p = rest;
        }
    }
    let chars: Vec<char> = p.chars().collect();
    let (mut out, mut params, mut i) = (String::new(), Vec::new(), 0);
    while i < chars.len() {
        let rest: String = chars[i..chars.len().min(i + 4)].iter().collect();
        let named = if rest.starts_with("(?P<") {
            Some(4)
        } else if rest.starts_with("(?<") && !rest.starts_with("(?<=") && !rest.starts_with("(?<!")
        {
            Some(3)
        } else {
            None
        };
        match (chars[i], named) {
            (_, Some(skip)) => {
                let name_start = i + skip;
                let name_len = chars[name_start..]
                    .iter()
                    .take_while(|c| **c != '>')
                    .count();
                let name: String = chars[name_start..name_start + name_len].iter().collect();
                let body_start = (name_start + name_len + 1).min(chars.len());
                let end = group_end(&chars, body_start);
                out.push('{');
                out.push_str(&name);
                out.push('}');
                params.push(PathParameter {
                    name,
                    pattern: chars[body_start..end.max(body_start)].iter().collect(),
                });
                i = end + 1;
            }
            ('\\', None) if i + 1 < chars.len() => {
                let c = chars[i + 1];
                if !c.is_ascii_alphanumeric() {
                    out.push(c);
                } else {
                    out.push('\\');
                    out.push(c);
                }
                i += 2;
            }
            ('/', None) if chars.get(i + 1) == Some(&'?') => i += 2,
            ('{', None) => {
                // a quantifier (`{3}`, `{1,2}`): not a template
                let len = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit() || **c == ',')
                    .count();
                if chars.get(i + 1 + len) == Some(&'}') {
                    i += len + 2;
                } else {
                    i += 1;
                }
            }
            ('}', None) => i += 1,
            (c, None) => {
                out.push(c);
                i += 1;
            }
        }
    }
    if !out.starts_with('/') {
        out.insert(0, '/');
    }
    (out, params)
}

/// A scheduled function.
///
/// ```
/// let s = tomodachi::transport::ScheduleDescription::new("heartbeat", Some("1".into()));
/// assert_eq!(s.interval.as_deref(), Some("1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScheduleDescription {
    /// The function's name.
    pub handler: String,
    /// The interval as declared (`"5"`, `"* * * * *"`, `"hourly"`), `None` for timestamps.
    pub interval: Option<String>,
    /// Whether it also runs once right after start.
    pub immediately: bool,
}

impl ScheduleDescription {
    /// A function named `handler` on `interval`.
    pub fn new(handler: impl Into<String>, interval: Option<String>) -> Self {
        Self {
            handler: handler.into(),
            interval,
            immediately: false,
        }
    }

    /// Sets whether it also runs right after start.
    pub fn immediately(mut self, immediately: bool) -> Self {
        self.immediately = immediately;
        self
    }
}

/// A server a transport connects to (an AsyncAPI server object).
///
/// ```
/// let s = tomodachi::transport::ServerDescription::new("amqp", "amqp", "127.0.0.1:5672");
/// assert_eq!(s.host, "127.0.0.1:5672");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServerDescription {
    /// The server's key in the document (`"amqp"`, `"sns"`); channels of the same protocol
    /// refer to the server of that protocol.
    pub name: String,
    /// The AsyncAPI protocol.
    pub protocol: String,
    /// `host[:port]`.
    pub host: String,
    /// The protocol version (`"0.9.1"` for AMQP).
    pub protocol_version: Option<String>,
    /// A path on the host (an AMQP virtual host).
    pub pathname: Option<String>,
    /// A description.
    pub description: Option<String>,
}

impl ServerDescription {
    /// A server `name` speaking `protocol` at `host`.
    pub fn new(
        name: impl Into<String>,
        protocol: impl Into<String>,
        host: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            protocol: protocol.into(),
            host: host.into(),
            protocol_version: None,
            pathname: None,
            description: None,
        }
    }

    /// Sets the protocol version.
    pub fn protocol_version(mut self, version: impl Into<String>) -> Self {
        self.protocol_version = Some(version.into());
        self
    }

    /// Sets the path on the host.
    pub fn pathname(mut self, pathname: impl Into<String>) -> Self {
        self.pathname = Some(pathname.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// `description(..)`, `data_schema(..)` (and, with the `schemars` feature, `schema::<T>()`) for
/// a subscription builder with `description: Option<String>` and
/// `data_schema: Option<serde_json::Value>` fields; `$new` is an expression of the builder for
/// the examples (`"tomodachi::amqp::AmqpSubscription::new(\"k\")"`).
#[allow(unused_macros)]
macro_rules! data_schema_setters {
    ($new:literal) => {
        /// A description of the handler for the AsyncAPI document (the macros take the
        /// method's doc comment): its first line is the operation's summary.
        ///
        #[doc = concat!("```\nlet sub = ", $new, ".description(\"Records new orders.\");\n```")]
        pub fn description(mut self, text: impl Into<String>) -> Self {
            self.description = Some(text.into());
            self
        }

        /// The JSON Schema of the messages' data (inside the envelope), for the AsyncAPI
        /// document ([`apidoc`](crate::apidoc)).
        ///
        #[doc = concat!("```\nlet sub = ", $new, ".data_schema(serde_json::json!({\"type\": \"object\"}));\n```")]
        pub fn data_schema(mut self, schema: serde_json::Value) -> Self {
            self.data_schema = Some(schema);
            self
        }

        /// The messages' data is a `T`: its JSON Schema (from `schemars`) goes into the
        /// AsyncAPI document ([`apidoc`](crate::apidoc)).
        ///
        #[doc = concat!("```\n#[derive(schemars::JsonSchema)]\nstruct Order { id: u64 }\nlet sub = ", $new, ".schema::<Order>();\n```")]
        #[cfg(feature = "schemars")]
        pub fn schema<T: schemars::JsonSchema>(self) -> Self {
            self.data_schema(crate::apidoc::schema_of::<T>())
        }
    };
}
#[allow(unused_imports)]
pub(crate) use data_schema_setters;
