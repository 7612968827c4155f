//! The clusters file: which upstream endpoints each cluster name stands for.
//!
//! ```yaml
//! default_cluster: stable
//! clusters:
//!   - name: "outbound|80|stable|fraud-detector.ml.svc.cluster.local"
//!     endpoints: ["127.0.0.1:8081"]
//! ```

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Deserialize;

use super::error::ServeError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClustersFile {
    default_cluster: String,
    clusters: Vec<ClusterEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterEntry {
    name: String,
    endpoints: Vec<String>,
}

/// One cluster: its endpoints, picked round robin.
#[derive(Debug)]
pub struct Cluster {
    name: String,
    endpoints: Vec<String>,
    next: AtomicUsize,
}

impl Cluster {
    /// The cluster's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next endpoint (`host:port`), round robin.
    pub fn next_endpoint(&self) -> &str {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.endpoints.len();
        &self.endpoints[index]
    }
}

/// Every cluster of the clusters file, and the default one.
#[derive(Debug)]
pub struct ClusterSet {
    default_cluster: Arc<Cluster>,
    by_name: HashMap<String, Arc<Cluster>>,
}

impl ClusterSet {
    /// Reads and validates a clusters file.
    pub fn load(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ServeError::Clusters {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses and validates clusters YAML; the error names the field and the rule.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: ClustersFile = serde_yaml::from_str(text).map_err(|err| {
            format!("{err} (expected `default_cluster: NAME` and `clusters: [{{name, endpoints: [\"host:port\", ...]}}]`)")
        })?;
        let mut by_name = HashMap::new();
        for (index, entry) in file.clusters.into_iter().enumerate() {
            if entry.name.is_empty() {
                return Err(format!("clusters[{index}].name: must not be empty"));
            }
            if entry.endpoints.is_empty() {
                return Err(format!(
                    "clusters[{index}].endpoints: cluster {:?} needs at least one host:port",
                    entry.name
                ));
            }
            for (e, endpoint) in entry.endpoints.iter().enumerate() {
                check_endpoint(endpoint).map_err(|rule| {
                    format!("clusters[{index}].endpoints[{e}]: {endpoint:?} {rule}")
                })?;
            }
            if by_name.contains_key(&entry.name) {
                return Err(format!(
                    "clusters[{index}].name: duplicate cluster {:?}",
                    entry.name
                ));
            }
            let cluster = Cluster {
                name: entry.name.clone(),
                endpoints: entry.endpoints,
                next: AtomicUsize::new(0),
            };
            by_name.insert(entry.name, Arc::new(cluster));
        }
        let Some(default_cluster) = by_name.get(&file.default_cluster).cloned() else {
            let known: BTreeSet<&str> = by_name.keys().map(String::as_str).collect();
            return Err(format!(
                "default_cluster: {:?} is not one of the clusters ({})",
                file.default_cluster,
                known.into_iter().collect::<Vec<_>>().join(", ")
            ));
        };
        Ok(Self {
            default_cluster,
            by_name,
        })
    }

    /// The cluster named `name`, if the file has it.
    pub fn get(&self, name: &str) -> Option<&Arc<Cluster>> {
        self.by_name.get(name)
    }

    /// The cluster requests go to when the filter sets no route header.
    pub fn default_cluster(&self) -> &Arc<Cluster> {
        &self.default_cluster
    }

    /// Every cluster name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }
}

fn check_endpoint(endpoint: &str) -> Result<(), &'static str> {
    let (host, port) = endpoint.rsplit_once(':').ok_or("must be host:port")?;
    if host.is_empty() {
        return Err("has an empty host");
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err("needs a port in 1..=65535"),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
default_cluster: stable
clusters:
  - name: stable
    endpoints: ["127.0.0.1:8081", "127.0.0.1:8082"]
  - name: "outbound|80|canary|svc"
    endpoints: ["localhost:9000"]
"#;

    #[test]
    fn endpoints_rotate_round_robin() {
        let set = ClusterSet::parse(GOOD).expect("valid");
        let stable = set.get("stable").expect("present");
        let picks: Vec<&str> = (0..4).map(|_| stable.next_endpoint()).collect();
        assert_eq!(
            picks,
            [
                "127.0.0.1:8081",
                "127.0.0.1:8082",
                "127.0.0.1:8081",
                "127.0.0.1:8082"
            ]
        );
        assert_eq!(set.default_cluster().name(), "stable");
        assert_eq!(set.names(), ["outbound|80|canary|svc", "stable"]);
        assert!(set.get("nope").is_none());
    }

    #[test]
    fn every_rule_is_named() {
        let cases = [
            ("default_cluster: x\nclusters: []\n", "default_cluster: \"x\" is not one of"),
            ("default_cluster: a\nclusters: [{name: a, endpoints: []}]\n", "clusters[0].endpoints"),
            ("default_cluster: a\nclusters: [{name: a, endpoints: [\"nohost\"]}]\n", "must be host:port"),
            ("default_cluster: a\nclusters: [{name: a, endpoints: [\"h:0\"]}]\n", "port in 1..=65535"),
            ("default_cluster: a\nclusters: [{name: a, endpoints: [\":80\"]}]\n", "empty host"),
            (
                "default_cluster: a\nclusters: [{name: a, endpoints: [\"h:1\"]}, {name: a, endpoints: [\"h:2\"]}]\n",
                "clusters[1].name: duplicate",
            ),
            ("default_cluster: a\nclusters: [{name: '', endpoints: [\"h:1\"]}]\n", "clusters[0].name"),
            ("default_cluster: a\nclusters: [{name: a, endpoints: [\"h:1\"], weight: 3}]\n", "unknown field"),
            ("clusters: []\n", "default_cluster"),
        ];
        for (text, expected) in cases {
            let err = ClusterSet::parse(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
