//! How the cost of a request grows with the number of routes (issue 15): a service with 1, 10,
//! 100 and 1,000 regex routes (`/r<i>/(?P<id>[^/]+)`, `GET`), a request matching the first, the
//! middle or the last route, or none (404), answered through the testing kit's in-process
//! client (the server's own request path without sockets).
//!
//! `cargo bench -p tomodachi --bench routing`; `benches/routing_plot.py` draws the PNG in
//! BENCHMARKS.md from criterion's estimates.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tomodachi::http::{HttpRequest, Method};
use tomodachi::testing::{TestApp, TestKit};
use tomodachi::Service;

fn service(routes: usize) -> tomodachi::ServiceBuilder<()> {
    let mut builder = Service::builder("routing", ()).configure(|o| {
        o.http.access_log = tomodachi::options::AccessLog::Disabled;
    });
    for i in 0..routes {
        builder = builder.http(
            Method::GET,
            &format!(r"/r{i}/(?P<id>[^/]+)"),
            |_s: Arc<()>, r: HttpRequest| async move {
                r.param("id").unwrap_or_default().len().to_string()
            },
        );
    }
    builder
}

fn routing(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("routing");
    for routes in [1usize, 10, 100, 1000] {
        let app: TestApp = rt
            .block_on(TestKit::new().start(service(routes)))
            .expect("the service starts");
        let client = app.http();
        let cases = [
            ("first", "/r0/abc".to_owned(), 200),
            ("middle", format!("/r{}/abc", routes / 2), 200),
            ("last", format!("/r{}/abc", routes - 1), 200),
            ("none", "/nothing/here".to_owned(), 404),
        ];
        for (case, path, status) in cases {
            let answer = rt.block_on(client.get(&path).send());
            assert_eq!(answer.status().as_u16(), status, "{path}");
            group.bench_with_input(BenchmarkId::new(case, routes), &path, |b, path| {
                b.iter(|| rt.block_on(client.get(path).send()));
            });
        }
        rt.block_on(app.stop());
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
