// Temporary: N iterations of the bench workload for callgrind.
use cloudbackup_core::dynamic::validate_patch_json;
use serde_json::Value;
fn main() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/rackspace/samples-v2/"
    );
    let mut restore: Value = serde_json::from_slice(
        &std::fs::read(format!("{dir}cbu-getRestoreDetails_response.json")).unwrap(),
    )
    .unwrap();
    restore["state"] = "in_progress".into();
    restore["errors"] = Value::Null;
    restore["ended_time"] = Value::Null;
    let resource = serde_json::to_vec(&restore).unwrap();
    let patch = std::fs::read(format!("{dir}cbu-updateRestore_request.json")).unwrap();
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1000);
    let mut out = 0;
    for _ in 0..n {
        let v = validate_patch_json(
            "restore",
            std::hint::black_box(&resource),
            &patch,
            "agent",
            None,
        )
        .unwrap();
        out += v.as_object().unwrap().len();
    }
    println!("{out}");
}
