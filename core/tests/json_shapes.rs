//! The JSON shapes every binding hands to its host (C strings, Python
//! dicts, JS objects) come from the core's serde impls; these pin them.

use cloudbackup_core::engine::{
    ByteRange, Create, CreateKind, Fetch, RawPath, RestoreOptions, VerifyReport, Xattr,
};
use cloudbackup_core::{Error, ErrorCode};
use serde_json::json;

#[test]
fn creates_name_their_kind_and_leave_out_what_is_unset() {
    let file: Create = serde_json::from_value(
        json!({"kind": "file", "path": "/a", "size": 3, "mode": 420, "mtime": 7}),
    )
    .unwrap();
    assert_eq!(file.kind, CreateKind::File);
    assert_eq!(
        serde_json::to_value(&file).unwrap(),
        json!({"kind": "file", "path": "/a", "size": 3, "mode": 420, "mtime": 7})
    );
    let link = Create {
        kind: CreateKind::Symlink,
        path: RawPath::from_bytes(&b"/l\xff"[..]),
        target: Some("a".into()),
        mode: 0o777,
        mtime: 1,
        mtime_nanos: 5,
        size: None,
        uid: Some(0),
        gid: None,
        rdev: 0,
        xattrs: vec![Xattr {
            name: "user.x".into(),
            value: vec![0, 255],
        }],
    };
    assert_eq!(
        serde_json::to_value(&link).unwrap(),
        json!({"kind": "symlink", "path": "\"/l\\xff\"", "target": "a", "mode": 511,
               "mtime": 1, "mtime_nanos": 5, "uid": 0,
               "xattrs": [{"name": "user.x", "value": "AP8="}]})
    );
    let dir: Create =
        serde_json::from_value(json!({"kind": "dir", "path": "/d", "mode": 493, "mtime": 2}))
            .unwrap();
    assert_eq!(dir.path(), "/d");
}

#[test]
fn fetches_name_the_bundle_in_hex() {
    let id = cloudbackup_core::engine::Id::parse(&"ab".repeat(32)).unwrap();
    let fetch = Fetch {
        bundle: id,
        ranges: vec![ByteRange {
            offset: 5,
            length: 9,
        }],
    };
    assert_eq!(
        serde_json::to_value(&fetch).unwrap(),
        json!({"bundle": "ab".repeat(32), "ranges": [{"offset": 5, "length": 9}]})
    );
}

#[test]
fn restore_options_default_every_member_and_refuse_unknown_ones() {
    let o: RestoreOptions = serde_json::from_value(json!({})).unwrap();
    assert_eq!(o, RestoreOptions::default());
    let o: RestoreOptions =
        serde_json::from_value(json!({"overwrite": true, "inclusions": ["/a/**"]})).unwrap();
    assert!(o.overwrite);
    assert_eq!(o.max_gap, RestoreOptions::default().max_gap);
    let e = serde_json::from_value::<RestoreOptions>(json!({"overwrite_files": true}))
        .unwrap_err()
        .to_string();
    assert!(e.contains("overwrite_files"), "{e}");
}

#[test]
fn verify_reports_carry_ok_and_typed_problems() {
    let report = VerifyReport {
        bundles_checked: 2,
        blobs_checked: 5,
        bytes_checked: 100,
        snapshots_checked: 3,
        temporary_objects: vec!["bundles/x.tmp".into()],
        problems: vec![(
            "bundle x".into(),
            Error::NotFound {
                what: "bundle".into(),
                id: "x".into(),
            },
        )],
        ..VerifyReport::default()
    };
    let v = serde_json::to_value(&report).unwrap();
    assert_eq!(v["ok"], json!(false));
    assert_eq!(v["snapshots_checked"], json!(3));
    assert_eq!(v["indexes_checked"], json!(0));
    assert_eq!(v["unindexed_bundles"], json!(0));
    assert_eq!(v["temporary_objects"], json!(["bundles/x.tmp"]));
    assert_eq!(v["bundles_checked"], json!(2));
    assert_eq!(v["problems"][0]["object"], json!("bundle x"));
    assert_eq!(
        v["problems"][0]["code"],
        json!(ErrorCode::NotFound.as_str())
    );
    assert!(v["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("bundle"));
}

#[test]
fn error_details_name_the_variant_fields() {
    let e = Error::PatchRejected {
        index: Some(1),
        path: Some("/state".into()),
        reason: "nope".into(),
    };
    assert_eq!(
        e.details(),
        json!({"index": 1, "path": "/state", "reason": "nope"})
    );
    assert_eq!(Error::WrongPassword.details(), json!({}));
    let t =
        cloudbackup_core::by_name::transition_by_name("restore", "completed", "queued", "agent")
            .unwrap_err();
    let d = t.details();
    assert_eq!(d["from"], json!("completed"));
    assert_eq!(d["rejection"], json!("terminal"));
    assert_eq!(d["conflict"], json!(true));
}
