//! Seed 002's model registry: versions of a model, each routed to an upstream cluster.

use crate::error::{ApiError, ApiResult};
use crate::validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /models/{model_id}/versions` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelVersionCreate {
    /// Version name, unique within the model (`v2`, `20260101_120000`).
    pub version: String,
    /// Upstream cluster serving this version (`outbound|80|v2|fraud.ml.svc.cluster.local`).
    pub cluster: String,
    /// Container image, for the record.
    #[serde(default)]
    pub image: Option<String>,
    /// Free-form metadata (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

impl ModelVersionCreate {
    /// Checks every field.
    pub fn validate(&self, model_id: &str) -> ApiResult<()> {
        validate::label("model_id", model_id)?;
        validate::label("version", &self.version)?;
        if self.cluster.is_empty()
            || self.cluster.len() > 512
            || self.cluster.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(ApiError::invalid(
                "cluster",
                "must be 1 to 512 characters without whitespace or control characters",
            ));
        }
        if let Some(image) = &self.image {
            validate::text("image", image, 512)?;
        }
        if let Some(metadata) = &self.metadata {
            if !metadata.is_object() {
                return Err(ApiError::invalid("metadata", "must be a JSON object"));
            }
            if metadata.to_string().len() > 16 * 1024 {
                return Err(ApiError::invalid(
                    "metadata",
                    "must be at most 16 KiB of JSON",
                ));
            }
        }
        Ok(())
    }
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelVersion {
    /// The model.
    pub model_id: String,
    /// The version.
    pub version: String,
    /// Upstream cluster serving it.
    pub cluster: String,
    /// Container image.
    pub image: Option<String>,
    /// Free-form metadata.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// When it was registered (RFC 3339, set by the server).
    pub created_at: String,
}

/// `GET /models/{model_id}/versions`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelVersionList {
    /// The model.
    pub model_id: String,
    /// Its versions, newest first.
    pub versions: Vec<ModelVersion>,
}

/// One model in `GET /models`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelSummary {
    /// The model.
    pub model_id: String,
    /// Number of registered versions.
    pub version_count: u64,
    /// Newest version.
    pub latest_version: String,
    /// When the newest version was registered.
    pub latest_created_at: String,
}

/// `GET /models`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ModelList {
    /// This tenant's models, by id.
    pub models: Vec<ModelSummary>,
}
