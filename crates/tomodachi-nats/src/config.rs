//! The connection settings: the `nats.*` option section (registered with tomodachi's options,
//! so `-c` config files set it like `options.amqp.*`), its typed form [`NatsConfig`], and the
//! connect options built from it (user and password, token or a `.creds` credentials file, TLS,
//! reconnect backoff).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tomodachi::options::Options;
use tomodachi::Error;

/// The environment variable that overrides [`NatsConfig::servers`] (a comma-separated list of
/// URLs).
pub const NATS_URL_ENV: &str = "TOMODACHI_NATS_URL";

/// The default server.
pub const DEFAULT_SERVER: &str = "nats://127.0.0.1:4222";

/// The name of the option section: `options.nats.*`.
pub const OPTIONS_SECTION: &str = "nats";

/// A service's NATS connection settings: the `nats.*` section of its options.
///
/// | option | default | |
/// |---|---|---|
/// | `nats.servers` | `["nats://127.0.0.1:4222"]` | any one of them will do; [`NATS_URL_ENV`] overrides them |
/// | `nats.name_prefix` | `""` | prefixes stream and durable consumer names (as `amqp.queue_name_prefix`) |
/// | `nats.user`, `nats.password` | `null` | user and password authentication |
/// | `nats.token` | `null` | token authentication |
/// | `nats.credentials_file` | `null` | a `.creds` file (user JWT and nkey seed, as `nsc` writes it): JWT authentication (operator mode); excludes `user`/`password` and `token` |
/// | `nats.tls_ca_file` | `null` | a PEM file of CA certificates to trust |
/// | `nats.tls_cert_file`, `nats.tls_key_file` | `null` | a client certificate and key (PEM) |
/// | `nats.tls_required` | `false` | refuse a server that does not offer TLS |
/// | `nats.connection_timeout` | `5.0` | seconds to connect at start |
/// | `nats.reconnect_max_delay` | `5.0` | seconds: reconnects wait 100 ms, doubled per attempt up to this |
///
/// Set it in code with [`NatsServiceBuilderExt::nats_config`](crate::NatsServiceBuilderExt::nats_config),
/// in a config file (`{"options": {"nats": {"servers": ["nats://10.0.0.1:4222"]}}}`), or by
/// key (`options.set("nats.name_prefix", json!("staging-"))` after [`register_options`]); a
/// config file's values win over the code's.
///
/// ```
/// let config = tomodachi_nats::NatsConfig::new()
///     .servers(["nats://127.0.0.1:4222"])
///     .name_prefix("staging-")
///     .tls_ca_file("/etc/nats/ca.pem");
/// assert_eq!(config.server_list(), ["nats://127.0.0.1:4222"]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    servers: Vec<String>,
    name_prefix: String,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    credentials_file: Option<PathBuf>,
    tls_ca_file: Option<PathBuf>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    tls_required: bool,
    connection_timeout: f64,
    reconnect_max_delay: f64,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            servers: vec![DEFAULT_SERVER.to_owned()],
            name_prefix: String::new(),
            user: None,
            password: None,
            token: None,
            credentials_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_required: false,
            connection_timeout: 5.0,
            reconnect_max_delay: 5.0,
        }
    }
}

/// Registers the `nats.*` option section with tomodachi's options (idempotent). The builder
/// methods call it; call it yourself to set `nats.*` options by key before any of them.
///
/// ```
/// tomodachi_nats::register_options();
/// let options = tomodachi::options::Options::default()
///     .with("nats.name_prefix", "staging-")
///     .map_err(tomodachi::Error::new)?;
/// assert_eq!(tomodachi_nats::NatsConfig::from_options(&options)?.name_prefix_value(), "staging-");
/// # Ok::<(), tomodachi::Error>(())
/// ```
pub fn register_options() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        let defaults = serde_json::to_value(NatsConfig::default()).unwrap_or_default();
        if let Err(e) = tomodachi::options::register_section(OPTIONS_SECTION, defaults) {
            tracing::error!(target: "tomodachi.nats", error_message = %e,
                "unable to register the nats option section");
        }
    });
}

impl NatsConfig {
    /// The defaults (see the table above).
    pub fn new() -> Self {
        Self::default()
    }

    /// The `nats.*` section of `options`; a value of the wrong shape is an error naming the
    /// section.
    pub fn from_options(options: &Options) -> Result<Self, Error> {
        register_options();
        options.section_as(OPTIONS_SECTION).map_err(Error::new)
    }

    /// This configuration as the `nats` section of an options mapping, for
    /// [`Options::merge_json`].
    pub(crate) fn to_options_json(&self) -> serde_json::Value {
        serde_json::json!({ OPTIONS_SECTION: self })
    }

    /// The servers to connect to (any one of them will do); [`NATS_URL_ENV`] overrides them.
    pub fn servers<I, T>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.servers = servers.into_iter().map(Into::into).collect();
        self
    }

    /// A prefix for every stream and durable consumer name the service declares (as
    /// `options.amqp.queue_name_prefix` for queues), to keep environments apart on one server.
    pub fn name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = prefix.into();
        self
    }

    /// Authenticates with a user and password.
    pub fn user_and_password(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.user = Some(user.into());
        self.password = Some(password.into());
        self
    }

    /// Authenticates with a token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Authenticates with a NATS credentials file (`.creds`: a user JWT and its nkey seed, as
    /// `nsc generate creds` writes it), the way to connect to a server in operator mode
    /// (decentralized JWT authentication). The file is read when the service starts: a missing,
    /// unreadable or malformed file fails the start with an error naming `nats.credentials_file`
    /// and the file.
    ///
    /// It excludes [`user_and_password`](Self::user_and_password) and [`token`](Self::token):
    /// a server authenticates a client by one method (a server in operator mode knows its
    /// users only by their JWTs), and async-nats would send all of them at once, so a
    /// combination is a start error rather than a guess at which one the server uses.
    ///
    /// ```
    /// let config = tomodachi_nats::NatsConfig::new()
    ///     .servers(["nats://127.0.0.1:4222"])
    ///     .credentials_file("/etc/nats/orders.creds");
    /// assert_eq!(
    ///     config.credentials_file_path(),
    ///     Some(std::path::Path::new("/etc/nats/orders.creds"))
    /// );
    /// ```
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.credentials_file = Some(path.into());
        self
    }

    /// The credentials file as configured (see [`credentials_file`](Self::credentials_file)).
    ///
    /// ```
    /// assert_eq!(tomodachi_nats::NatsConfig::new().credentials_file_path(), None);
    /// ```
    pub fn credentials_file_path(&self) -> Option<&std::path::Path> {
        self.credentials_file.as_deref()
    }

    /// Trusts the CA certificates of this PEM file (besides the system's roots).
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca_file = Some(path.into());
        self
    }

    /// Presents this client certificate and key (PEM files) to a server that verifies clients.
    pub fn tls_client_certificate(
        mut self,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.tls_cert_file = Some(cert.into());
        self.tls_key_file = Some(key.into());
        self
    }

    /// Refuses a server that does not offer TLS.
    pub fn tls_required(mut self, required: bool) -> Self {
        self.tls_required = required;
        self
    }

    /// The longest wait between reconnect attempts (default 5 s); the first waits 100 ms.
    pub fn reconnect_max_delay(mut self, delay: Duration) -> Self {
        self.reconnect_max_delay = delay.as_secs_f64();
        self
    }

    /// The servers as configured (before the environment override).
    pub fn server_list(&self) -> &[String] {
        &self.servers
    }

    /// The name prefix as configured.
    pub fn name_prefix_value(&self) -> &str {
        &self.name_prefix
    }

    /// The servers to connect to: [`NATS_URL_ENV`]'s value when set and not blank, split at
    /// commas, else the configured ones.
    ///
    /// ```
    /// let config = tomodachi_nats::NatsConfig::new();
    /// assert_eq!(config.resolved_servers(Some("nats://10.0.0.1:4222, nats://10.0.0.2:4222")),
    ///            ["nats://10.0.0.1:4222", "nats://10.0.0.2:4222"]);
    /// assert_eq!(config.resolved_servers(Some(" ")), ["nats://127.0.0.1:4222"]);
    /// assert_eq!(config.resolved_servers(None), ["nats://127.0.0.1:4222"]);
    /// ```
    pub fn resolved_servers(&self, env: Option<&str>) -> Vec<String> {
        let from_env: Vec<String> = env
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if from_env.is_empty() {
            self.servers.clone()
        } else {
            from_env
        }
    }

    /// The async-nats connect options: name, timeout, credentials, TLS, reconnect backoff and
    /// connection event logs.
    pub(crate) fn connect_options(
        &self,
        service: &str,
    ) -> Result<async_nats::ConnectOptions, Error> {
        let max_delay = seconds(self.reconnect_max_delay, "nats.reconnect_max_delay")?;
        let mut options = async_nats::ConnectOptions::new()
            .name(format!("tomodachi:{service}"))
            .connection_timeout(seconds(self.connection_timeout, "nats.connection_timeout")?)
            .reconnect_delay_callback(move |attempts| reconnect_delay(attempts, max_delay))
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => {
                        tracing::info!(target: "tomodachi.nats", "connected to the NATS server")
                    }
                    async_nats::Event::Disconnected => {
                        tracing::warn!(target: "tomodachi.nats",
                            "disconnected from the NATS server; reconnecting")
                    }
                    other => tracing::debug!(target: "tomodachi.nats", event = %other,
                        "NATS connection event"),
                }
            });
        match (&self.user, &self.password) {
            (Some(user), Some(password)) => {
                options = options.user_and_password(user.clone(), password.clone());
            }
            (None, None) => {}
            _ => {
                return Err(Error::msg(
                    "nats.user and nats.password go together: set both or neither",
                ))
            }
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(path) = &self.credentials_file {
            options = self.with_credentials_file(options, path)?;
        }
        if let Some(ca) = &self.tls_ca_file {
            options = options.add_root_certificates(ca.clone());
        }
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => {
                options = options.add_client_certificate(cert.clone(), key.clone());
            }
            (None, None) => {}
            _ => {
                return Err(Error::msg(
                    "nats.tls_cert_file and nats.tls_key_file go together: set both or neither",
                ))
            }
        }
        Ok(options.require_tls(self.tls_required))
    }
}

impl NatsConfig {
    /// `options` authenticating with the credentials file `path`; an error names the option
    /// and the file when it excludes another method, cannot be read, or is not a `.creds` file.
    fn with_credentials_file(
        &self,
        options: async_nats::ConnectOptions,
        path: &std::path::Path,
    ) -> Result<async_nats::ConnectOptions, Error> {
        let other = match (&self.user, &self.token) {
            (Some(_), _) => Some("nats.user/nats.password"),
            (None, Some(_)) => Some("nats.token"),
            (None, None) => None,
        };
        if let Some(other) = other {
            return Err(Error::msg(format!(
                "options 'nats.credentials_file' and '{other}' exclude each other: a NATS \
                 server authenticates a client by one method; set only one of them"
            )));
        }
        let file = path.display();
        // a small file read once at start, before the connection exists
        let contents = std::fs::read_to_string(path).map_err(|e| {
            Error::msg(format!(
                "option 'nats.credentials_file': unable to read the credentials file '{file}': {e}"
            ))
        })?;
        options.credentials(&contents).map_err(|e| {
            Error::msg(format!(
                "option 'nats.credentials_file': '{file}' is not a NATS credentials file (a user \
                 JWT and an nkey seed between -----BEGIN/END----- lines, as nsc writes it): {e}"
            ))
        })
    }
}

/// A positive number of seconds as a duration; anything else is an error naming the option.
fn seconds(value: f64, option: &str) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            Error::msg(format!(
                "option '{option}' must be a positive number of seconds, not {value}"
            ))
        })
}

/// The wait before reconnect attempt `attempts` (1 for the first): 100 ms doubled per attempt,
/// at most `max`.
pub(crate) fn reconnect_delay(attempts: usize, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    Duration::from_millis(100u64 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delays_double_up_to_the_maximum() {
        let max = Duration::from_secs(5);
        assert_eq!(reconnect_delay(0, max), Duration::from_millis(100));
        assert_eq!(reconnect_delay(1, max), Duration::from_millis(100));
        assert_eq!(reconnect_delay(2, max), Duration::from_millis(200));
        assert_eq!(reconnect_delay(6, max), Duration::from_millis(3200));
        assert_eq!(reconnect_delay(7, max), max);
        assert_eq!(reconnect_delay(usize::MAX, max), max);
    }

    #[test]
    fn options_and_config_files_set_the_section() {
        register_options();
        let options = Options::from_json(&serde_json::json!({
            "nats": {"servers": ["nats://10.0.0.1:4222"], "tls_required": true},
            "nats.name_prefix": "staging-",
        }))
        .expect("valid nats options");
        let config = NatsConfig::from_options(&options).expect("a config");
        assert_eq!(config.server_list(), ["nats://10.0.0.1:4222"]);
        assert_eq!(config.name_prefix_value(), "staging-");
        assert!(config.tls_required);
        assert_eq!(
            NatsConfig::from_options(&Options::default()).expect("defaults"),
            NatsConfig::default()
        );
        let typo = Options::from_json(&serde_json::json!({"nats": {"server": []}}));
        assert!(typo
            .expect_err("an unknown key")
            .to_string()
            .contains("nats.server"));
        let wrong_type = Options::from_json(&serde_json::json!({"nats": {"servers": "x"}}));
        assert!(wrong_type.is_err());
    }

    #[test]
    fn code_settings_round_trip_through_the_options() {
        register_options();
        let config = NatsConfig::new()
            .servers(["nats://a:4222", "nats://b:4222"])
            .user_and_password("u", "p")
            .tls_client_certificate("/c.pem", "/k.pem")
            .reconnect_max_delay(Duration::from_secs(2));
        let mut options = Options::default();
        options
            .merge_json(&config.to_options_json())
            .expect("merged");
        assert_eq!(NatsConfig::from_options(&options).expect("read"), config);
    }

    /// A new temporary file with `contents`.
    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "tomodachi-nats-config-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, contents).expect("a temp file");
        path
    }

    /// A credentials file's text: `jwt` and the seed of `user`, as nsc writes them.
    fn creds(jwt: &str, seed: &str) -> String {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        )
    }

    fn start_error(config: &NatsConfig) -> String {
        match config.connect_options("svc") {
            Ok(_) => panic!("connect options for {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_credentials_file_option_is_read_from_options_and_code() {
        register_options();
        let options = Options::from_json(&serde_json::json!({
            "nats": {"credentials_file": "/etc/nats/a.creds"},
        }))
        .expect("valid nats options");
        let config = NatsConfig::from_options(&options).expect("a config");
        assert_eq!(
            config.credentials_file_path(),
            Some(std::path::Path::new("/etc/nats/a.creds"))
        );
        assert_eq!(
            config,
            NatsConfig::new().credentials_file("/etc/nats/a.creds")
        );
        assert_eq!(NatsConfig::default().credentials_file_path(), None);
        // the default is null, so the options take any value; reading the section refuses it
        let wrong_type = Options::from_json(&serde_json::json!({"nats": {"credentials_file": 1}}))
            .expect("options");
        let message = NatsConfig::from_options(&wrong_type)
            .expect_err("a number is no path")
            .to_string();
        assert!(message.contains("nats"), "{message}");
        let mut merged = Options::default();
        merged
            .merge_json(&config.to_options_json())
            .expect("merged");
        assert_eq!(NatsConfig::from_options(&merged).expect("read"), config);
    }

    #[test]
    fn a_valid_credentials_file_builds_connect_options() {
        let seed = nkeys::KeyPair::new_user().seed().expect("a seed");
        let path = temp_file("valid.creds", &creds("eyJ0eXAiOiJKV1QifQ.e30.c2ln", &seed));
        let config = NatsConfig::new().credentials_file(&path);
        assert!(config.connect_options("svc").is_ok());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn a_missing_credentials_file_is_an_error_naming_the_option_and_the_file() {
        let path = std::env::temp_dir().join("tomodachi-nats-no-such-file.creds");
        let message = start_error(&NatsConfig::new().credentials_file(&path));
        assert!(message.contains("nats.credentials_file"), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("unable to read"), "{message}");
    }

    #[test]
    fn a_malformed_credentials_file_is_an_error_naming_the_option_and_the_file() {
        let user = nkeys::KeyPair::new_user();
        let cases = [
            ("empty.creds", String::new()),
            ("garbage.creds", "not a creds file\n".to_owned()),
            // the JWT without the seed
            (
                "jwt-only.creds",
                "-----BEGIN NATS USER JWT-----\neyJ0.e30.c2ln\n------END NATS USER JWT------\n"
                    .to_owned(),
            ),
            // a public key where the seed belongs
            ("bad-seed.creds", creds("eyJ0.e30.c2ln", &user.public_key())),
        ];
        for (name, contents) in cases {
            let path = temp_file(name, &contents);
            let message = start_error(&NatsConfig::new().credentials_file(&path));
            assert!(
                message.contains("nats.credentials_file"),
                "{name}: {message}"
            );
            assert!(
                message.contains(&path.display().to_string()),
                "{name}: {message}"
            );
            assert!(
                message.contains("is not a NATS credentials file"),
                "{name}: {message}"
            );
            let _ = std::fs::remove_file(path);
        }
    }

    #[test]
    fn credentials_exclude_user_password_and_token() {
        // checked before the file is read: the file need not exist
        let with_creds = || NatsConfig::new().credentials_file("/nonexistent/a.creds");
        let message = start_error(&with_creds().user_and_password("u", "p"));
        assert!(message.contains("'nats.credentials_file'"), "{message}");
        assert!(message.contains("'nats.user/nats.password'"), "{message}");
        assert!(message.contains("exclude each other"), "{message}");
        let message = start_error(&with_creds().token("t"));
        assert!(message.contains("'nats.token'"), "{message}");
        assert!(message.contains("exclude each other"), "{message}");
        // user and password with a token stays allowed (async-nats sends both)
        assert!(NatsConfig::new()
            .user_and_password("u", "p")
            .token("t")
            .connect_options("svc")
            .is_ok());
    }

    #[test]
    fn bad_durations_are_errors_naming_the_option() {
        assert!(seconds(0.0, "nats.x").is_err());
        assert!(seconds(-1.0, "nats.x")
            .expect_err("negative")
            .to_string()
            .contains("nats.x"));
        assert_eq!(seconds(1.5, "x").expect("ok"), Duration::from_millis(1500));
    }
}
