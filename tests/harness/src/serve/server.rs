//! Starting the dev proxy: load everything, bind both listeners, serve until shut down.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::admin::Admin;
use super::args::ServeArgs;
use super::clusters::ClusterSet;
use super::config_file::ActiveConfig;
use super::error::ServeError;
use super::pool::{FilterPool, Generation};
use super::proxy::Proxy;
use super::reload::Reloader;
use super::upstream::{BoxError, Upstreams};
use super::vm::VmFactory;
use super::vm_ref::drive_host_events;

/// A running dev proxy; dropping it stops both listeners and the config watcher.
pub struct RunningProxy {
    listen: SocketAddr,
    admin: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningProxy {
    /// Where the proxy listens.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// Where the admin endpoints listen.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts a proxy with VMs from `factory` (`None`: no filter). Must run inside a tokio runtime.
pub async fn start_with_factory(
    args: &ServeArgs,
    factory: Option<Arc<dyn VmFactory>>,
) -> Result<RunningProxy, ServeError> {
    args.check()?;
    let clusters = ClusterSet::load(&args.clusters)?;
    let workers = args.worker_count();
    let mut tasks = Vec::new();
    let (pool, reloader) = match (factory, &args.config) {
        (Some(factory), Some(config_path)) => {
            let text = std::fs::read_to_string(config_path).map_err(|source| ServeError::Read {
                path: config_path.clone(),
                source,
            })?;
            let config =
                ActiveConfig::from_file_text(&text).map_err(|message| ServeError::Config {
                    path: config_path.clone(),
                    message,
                })?;
            let generation =
                Generation::build(factory.as_ref(), config, workers).map_err(|err| {
                    ServeError::Config {
                        path: config_path.clone(),
                        message: err.to_string(),
                    }
                })?;
            let pool = Arc::new(FilterPool::new(generation, Some(Arc::clone(&factory))));
            let reloader = Arc::new(Reloader::new(factory, Arc::clone(&pool), workers));
            let interval = Duration::from_millis(args.reload_interval_ms.max(10));
            tasks.push(tokio::spawn(Arc::clone(&reloader).watch(
                config_path.clone(),
                text,
                interval,
            )));
            (pool, Some(reloader))
        }
        (Some(_), None) => {
            return Err(ServeError::Usage(
                "--config is required with a filter".into(),
            ))
        }
        (None, _) => (
            Arc::new(FilterPool::new(Generation::passthrough(), None)),
            None,
        ),
    };
    let upstreams = Arc::new(Upstreams::new(clusters));
    let listener = bind(args.listen).await?;
    let admin_listener = bind(args.admin).await?;
    let listen = local_addr(&listener, args.listen)?;
    let admin = local_addr(&admin_listener, args.admin)?;

    if reloader.is_some() {
        tasks.push(tokio::spawn(drive_host_events(
            Arc::clone(&pool),
            Arc::clone(&upstreams),
        )));
    }
    let proxy = Arc::new(Proxy::new(Arc::clone(&pool), Arc::clone(&upstreams)));
    tasks.push(tokio::spawn(accept_loop(listener, move |request| {
        let proxy = Arc::clone(&proxy);
        async move { proxy.handle(request).await }
    })));
    let admin_handler = Arc::new(Admin::new(pool, upstreams, reloader));
    tasks.push(tokio::spawn(accept_loop(
        admin_listener,
        move |request: Request<Incoming>| {
            let admin = Arc::clone(&admin_handler);
            async move { admin.handle(&request) }
        },
    )));
    Ok(RunningProxy {
        listen,
        admin,
        tasks,
    })
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.to_string(),
            source,
        })
}

fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, ServeError> {
    listener.local_addr().map_err(|source| ServeError::Bind {
        addr: asked.to_string(),
        source,
    })
}

/// Accepts HTTP/1.1 connections forever, each served by `handler`.
async fn accept_loop<H, F, B>(listener: TcpListener, handler: H)
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: back off a little, keep serving.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(handler);
            if let Err(err) = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(tcp), service)
                .await
            {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
}
