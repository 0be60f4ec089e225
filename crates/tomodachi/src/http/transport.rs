//! HTTP as a [`Transport`]: declaring binds the listening socket, starting accepts connections,
//! stopping drains them within the grace period.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::handler::{ErasedHandler, ErasedMiddleware};
use super::layer::LayerFn;
use super::router::Route;
use super::server::{BoundServer, RunningServer};
use super::settings::http_app;
use crate::error::Error;
use crate::transport::{
    BoxFuture, DeclaredTransport, RunningTransport, Transport, TransportContext,
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
            let app = http_app(*self, &ctx.options.http)?;
            let bound = BoundServer::bind(app).await?;
            Ok(Box::new(bound) as Box<dyn DeclaredTransport>)
        })
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
