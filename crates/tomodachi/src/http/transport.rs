//! HTTP as a [`Transport`]: declaring binds the listening socket, starting accepts connections,
//! stopping drains them within the grace period.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::access_log::AccessLog;
use super::handler::{ErasedHandler, ErasedMiddleware};
use super::layer::LayerFn;
use super::router::Route;
use super::router::Router;
use super::server::HttpApp;
use super::server::{BoundServer, RunningServer};
use super::settings::settings;
use crate::error::Error;
use crate::options::AccessLog as AccessLogOption;
use crate::transport::{
    BoxFuture, ChannelDescription, DeclaredTransport, Description, RouteKind, RunningTransport,
    ServerDescription, Transport, TransportContext,
};

/// A service's HTTP definition: routes in registration order, error handlers by status,
/// middlewares (outermost first) and tower layers.
#[derive(Default)]
pub(crate) struct HttpTransport {
    pub(crate) routes: Vec<Route>,
    pub(crate) error_handlers: HashMap<u16, ErasedHandler>,
    pub(crate) middlewares: Vec<ErasedMiddleware>,
    pub(crate) layers: Vec<LayerFn>,
}

impl Transport for HttpTransport {
    fn name(&self) -> &'static str {
        "http"
    }

    fn declare(
        self: Box<Self>,
        ctx: TransportContext,
    ) -> BoxFuture<'static, Result<Box<dyn DeclaredTransport>, Error>> {
        Box::pin(async move {
            let app = http_app(*self, &ctx)?;
            let bound = BoundServer::bind(app).await?;
            Ok(Box::new(bound) as Box<dyn DeclaredTransport>)
        })
    }

    /// The routes in registration order, the server (`http`), and for each websocket route a
    /// `ws` channel (text messages in, handled by the route's callbacks).
    fn describe(&self, ctx: &TransportContext) -> Vec<Description> {
        let o = &ctx.options().http;
        let host = format!("{}:{}", o.host, o.port);
        let mut out = vec![Description::Server(
            ServerDescription::new("http", "http", host.clone())
                .description(format!("the HTTP server of {}", ctx.service_name())),
        )];
        let mut websockets = false;
        for route in &self.routes {
            out.push(Description::Route(route.doc.clone()));
            if route.doc.kind == RouteKind::WebSocket {
                websockets = true;
                let (path, _) = route.doc.path_template();
                // a route without a name is named by its pattern: use the path
                let handler = if route.doc.handler == route.doc.pattern {
                    path.clone()
                } else {
                    route.doc.handler.clone()
                };
                out.push(Description::Channel(
                    ChannelDescription::new("ws", path, handler)
                        .description(format!(
                            "websocket text messages on the route `{}`",
                            route.doc.pattern
                        ))
                        .channel_binding(
                            "ws",
                            serde_json::json!({"method": "GET", "bindingVersion": "0.1.0"}),
                        ),
                ));
            }
        }
        if websockets {
            out.push(Description::Server(
                ServerDescription::new("ws", "ws", host)
                    .description(format!("the websockets of {}", ctx.service_name())),
            ));
        }
        out
    }
}

impl DeclaredTransport for BoundServer {
    fn start(self: Box<Self>) -> BoxFuture<'static, Result<Box<dyn RunningTransport>, Error>> {
        Box::pin(async move { Ok(Box::new(self.serve()) as Box<dyn RunningTransport>) })
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(BoundServer::local_addr(self))
    }
}

impl RunningTransport for RunningServer {
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(RunningServer::stop(*self))
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        Some(RunningServer::local_addr(self))
    }
}

/// Turns a service's HTTP definition into a server app with `options.http`.
pub(crate) fn http_app(http: HttpTransport, ctx: &TransportContext) -> Result<HttpApp, Error> {
    let o = &ctx.options.http;
    let settings = settings(o)?;
    let access_log = match &o.access_log {
        AccessLogOption::Disabled => AccessLog::disabled(),
        AccessLogOption::Enabled => AccessLog::logger_only(),
        AccessLogOption::File(path) => AccessLog::with_file(path)?,
    };
    let router = Router::new(http.routes).map_err(Error::msg)?;
    #[allow(unused_mut)]
    let mut app = HttpApp::new(
        std::sync::Arc::new(ctx.clone()),
        router,
        http.error_handlers,
        http.middlewares,
        http.layers,
        settings,
        access_log,
    );
    #[cfg(feature = "opentelemetry")]
    {
        app.telemetry = crate::telemetry::of(ctx)
            .map(|t| std::sync::Arc::new(crate::telemetry::http_spans::ServerTelemetry::new(t)));
    }
    Ok(app)
}
