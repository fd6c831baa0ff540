//! How template lists are held between tenants.

use super::*;

/// Tenants subscribed alike to one template version hold one copy of its compiled list (what
/// keeps a template change at 100,000 tenants to pointer copies: BENCHMARKS.md), and a new
/// version gives them one new copy between them.
#[test]
fn tenants_subscribed_alike_hold_one_copy_of_the_compiled_list() {
    let day = "2025-01-15";
    let mut log = Log::new();
    log.on(day, record_template("2025010100", None));
    for (i, id) in ["acme", "beta", "core"].into_iter().enumerate() {
        log.on(day, tenant(id, "tokyo", &format!("10.{i}.0.0/16")));
        for c in serve_commands(id, 20_000) {
            log.on(day, c);
        }
        log.on(day, subscribe(id, breakout_policy::Action::Direct));
    }
    let name = crate::templates::select::list_name(TemplateItem::Microsoft365);
    let entries = |cache: &ServedCache| -> Vec<Arc<Vec<breakout_policy::Destination>>> {
        let tenants = cache.region_tenants("tokyo");
        assert_eq!(tenants.len(), 3);
        tenants
            .iter()
            .map(|t| Arc::clone(&t.lists[&name].entries))
            .collect()
    };
    let mut cache = ServedCache::default();
    cache.advance(&log.0);
    let first = entries(&cache);
    assert!(first.iter().all(|e| Arc::ptr_eq(e, &first[0])));
    log.on(day, record_template("2025010200", Some("new.example.com")));
    cache.advance(&log.0);
    let second = entries(&cache);
    assert!(second.iter().all(|e| Arc::ptr_eq(e, &second[0])));
    assert!(!Arc::ptr_eq(&first[0], &second[0]));
    assert!(second[0].iter().any(|d| d.to_string() == "new.example.com"));
}
