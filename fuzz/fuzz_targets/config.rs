//! Arbitrary bytes as plugin configuration: parsing, validation and compilation never panic;
//! an accepted config survives a serialize → parse round trip unchanged (the controller writes
//! configs through the same types), and its table decides a few requests without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rollgate_core::{FilterConfig, HeaderList, RoutingTable};

fuzz_target!(|data: &[u8]| {
    let Ok(config) = FilterConfig::from_json(data) else {
        return;
    };
    let table = match RoutingTable::compile(&config) {
        Ok(table) => table,
        Err(err) => panic!("validated config refused by compile: {err}"),
    };
    let text = match serde_json::to_vec(&config) {
        Ok(text) => text,
        Err(err) => panic!("accepted config does not serialize: {err}"),
    };
    match FilterConfig::from_json(&text) {
        Ok(again) => assert_eq!(again, config, "round trip changed the config"),
        Err(err) => panic!(
            "re-serialized config refused: {err}\n{}",
            String::from_utf8_lossy(&text)
        ),
    }
    let request = HeaderList::new(vec![
        (":authority".into(), b"fraud-detector".to_vec()),
        (":path".into(), b"/predict".to_vec()),
        ("x-user-id".into(), b"u-1".to_vec()),
    ]);
    for random in [0, u64::MAX] {
        if let Some(decision) = table.decide(&request, random) {
            let experiment = &table.experiments()[decision.experiment_index];
            assert!(decision.variant_index < experiment.variants.len());
        }
    }
});
