//! The OpenAPI document, generated from the handler annotations and the request/response types.

use crate::routes::{ab_tests, canary, events, models, shadow};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Rollgate API", description = "A/B tests, canaries, shadows and the model registry, per tenant. Bearer token required under /api/v1. Configs are pushed per (tenant, service) to the configured sink (ECDS file, Istio WasmPlugin, stdout). Several A/B tests and canaries may run on one service only in disjoint ranges of one exclusive layer (`layer: {name, from, to}`, buckets 0-9999); an experiment that would share users with a live one is a 409 naming it."),
    paths(
        ab_tests::create, ab_tests::list, ab_tests::get, ab_tests::update, ab_tests::stop, ab_tests::promote, ab_tests::rollback,
        events::record, events::results,
        canary::start, canary::status, canary::advance,
        shadow::start, shadow::get, shadow::stop,
        models::register, models::versions, models::list,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
