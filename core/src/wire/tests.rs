//! Round trips of every wire quirk.

use super::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::wire_enum_with_ids;

fn round_trip<T: Serialize + for<'de> Deserialize<'de>>(v: serde_json::Value) {
    let t: T = serde_json::from_value(v.clone()).expect("parses");
    assert_eq!(serde_json::to_value(&t).expect("serialises"), v);
}

#[test]
fn timestamps_round_trip_in_every_precision_and_offset() {
    for s in [
        "2014-10-20T13:11:58.985151Z",
        "2014-10-20T13:11:58Z",
        "2014-10-20T13:11:58.985Z",
        "2015-03-23T19:58:33.135553+00:00",
        "2000-02-29T23:59:59.1-05:30",
        "2014-10-20T13:11:58.123456789Z",
    ] {
        round_trip::<Timestamp>(json!(s));
    }
    // A fraction is the same time whatever its number of digits.
    let tenth = Timestamp::parse("2014-10-20T13:11:58.1Z").unwrap();
    let nine = Timestamp::parse("2014-10-20T13:11:58.100000000Z").unwrap();
    assert_eq!(tenth.cmp(&nine), std::cmp::Ordering::Equal);
    assert_eq!(tenth.unix_micros() % 1_000_000, 100_000);
    let a = Timestamp::parse("2014-10-20T13:11:58.985151Z").unwrap();
    let b = Timestamp::parse("2014-10-20T15:11:58.985151+02:00").unwrap();
    assert_eq!(a.cmp(&b), std::cmp::Ordering::Equal);
    assert_eq!(a.unix_micros(), 1_413_810_718_985_151);
    assert_eq!(Timestamp::from_unix_micros(a.unix_micros()), a);
}

#[test]
fn bad_timestamps_are_rejected_with_the_text() {
    for s in [
        "2014-13-01T00:00:00Z",
        "2014-02-30T00:00:00Z",
        "yesterday",
        "2014-10-20T13:11:58",
        "2014-1a-20T13:11:58Z",
        "+014-10-20T13:11:58Z",
        "2014-10-2\u{e9}T13:11:58Z",
        "2014-10-20T13:11:58+0a:00",
        "2014-10-20T13:11:58+01:60",
        "2014-10-20T13:11:58.Z",
        "2014-10-20T13:11:58.1234567890Z",
        "2014-10-20T24:11:58Z",
    ] {
        let e = Timestamp::parse(s).unwrap_err().to_string();
        assert!(e.contains(s), "{e}");
    }
}

#[test]
fn ms_dates_parse_with_and_without_offset() {
    let d: MsDate = serde_json::from_str(r#""\/Date(1357151359000)\/""#).unwrap();
    assert_eq!(d.millis, 1_357_151_359_000);
    assert_eq!(
        serde_json::to_value(d).unwrap(),
        json!("/Date(1357151359000)/")
    );
    round_trip::<MsDate>(json!("/Date(-62135596800000)/"));
    round_trip::<MsDate>(json!("/Date(1357151359000-0500)/"));
    assert_eq!(
        MsDate::parse("/Date(5+0130)/").unwrap().offset_minutes,
        Some(90)
    );
    assert!(MsDate::parse("Date(5)").is_err());
    assert!(MsDate::parse("/Date(abc)/").is_err());
}

#[test]
fn human_sizes_keep_their_text_and_convert_to_bytes() {
    round_trip::<HumanSize>(json!("35.3 MB"));
    let s = HumanSize::parse("18 MB").unwrap();
    assert_eq!(s.bytes(), 18 * 1024 * 1024);
    assert_eq!(
        HumanSize::parse("3.7 GB").unwrap().unit(),
        SizeUnit::Gigabytes
    );
    assert!(HumanSize::parse("18MB").is_err());
    assert!(HumanSize::parse("-1 MB").is_err());
    assert!(HumanSize::parse("1 XB")
        .unwrap_err()
        .to_string()
        .contains("XB"));
    // Unit words and spellings are kept as sent.
    round_trip::<HumanSize>(json!("318 bytes"));
    round_trip::<HumanSize>(json!("3.0 Mb"));
    assert_eq!(HumanSize::parse("318 bytes").unwrap().bytes(), 318);
    assert_eq!(HumanSize::parse("1 byte").unwrap().unit(), SizeUnit::Bytes);
    assert_eq!(HumanSize::parse("2 pb").unwrap().bytes(), 2 << 50);
    assert_eq!(HumanSize::new(5, SizeUnit::Kilobytes).to_string(), "5 KB");
}

#[test]
fn open_sets_keep_unknown_names() {
    let known: Open<Colour> = serde_json::from_value(json!("blue")).unwrap();
    assert_eq!(known, Open::Known(Colour::Blue));
    assert!(known == Colour::Blue);
    assert_eq!(serde_json::to_value(&known).unwrap(), json!("Blue"));
    let unknown: Open<Colour> = serde_json::from_value(json!("Green")).unwrap();
    assert_eq!(unknown, Open::Unknown("Green".into()));
    assert_eq!(unknown.known(), None);
    round_trip::<Open<Colour>>(json!("Green"));
    round_trip::<Open<Colour>>(json!("Red"));
    assert!(serde_json::from_value::<Open<Colour>>(json!(7)).is_err());
}

#[test]
fn loose_numbers_and_booleans_keep_their_form() {
    round_trip::<LooseInt>(json!("5152883998"));
    round_trip::<LooseInt>(json!(42));
    round_trip::<LooseBool>(json!("True"));
    round_trip::<LooseBool>(json!(false));
    assert!(serde_json::from_value::<LooseInt>(json!("12a")).is_err());
    assert!(serde_json::from_value::<LooseBool>(json!("yes")).is_err());
}

#[test]
fn hex_accepts_spaces_and_bare_numbers() {
    let h: HexString = serde_json::from_value(json!("a5 26\n19")).unwrap();
    assert_eq!(h.to_bytes(), vec![0xa5, 0x26, 0x19]);
    round_trip::<HexString>(json!("a5 26 19"));
    let e: HexNumber = serde_json::from_value(json!(10001)).unwrap();
    assert_eq!(e.to_bytes(), vec![0x01, 0x00, 0x01]);
    round_trip::<HexNumber>(json!(10001));
    round_trip::<HexNumber>(json!("010001"));
    assert!(serde_json::from_value::<HexString>(json!("xyz")).is_err());
    assert!(serde_json::from_value::<HexNumber>(json!(-3)).is_err());
}

wire_enum_with_ids! {
    /// Test enum.
    enum Colour { Red = "Red" => 1, Blue = "Blue" => 7 }
}

#[test]
fn wire_enums_by_name_and_id() {
    round_trip::<Colour>(json!("Red"));
    round_trip::<ById<Colour>>(json!(7));
    assert_eq!(
        serde_json::from_value::<Colour>(json!("blue")).unwrap(),
        Colour::Blue
    );
    assert_eq!(
        serde_json::from_value::<ById<Colour>>(json!("1"))
            .unwrap()
            .value,
        Colour::Red
    );
    let e = serde_json::from_value::<Colour>(json!("Green"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Green") && e.contains("Red, Blue"), "{e}");
    assert!(serde_json::from_value::<ById<Colour>>(json!(3)).is_err());
    assert_eq!("Blue".parse::<Colour>().unwrap().id(), 7);
}

#[test]
fn ids_by_number_or_string_keep_their_form() {
    round_trip::<ById<Colour>>(json!("1"));
    round_trip::<ById<Colour>>(json!(1));
    let quoted: ById<Colour> = serde_json::from_value(json!("1")).unwrap();
    assert_eq!(
        quoted,
        ById {
            value: Colour::Red,
            quoted: true,
            named: false
        }
    );
    let bare: ById<Colour> = serde_json::from_value(json!(1)).unwrap();
    assert_eq!(bare, ById::new(Colour::Red));
    assert_eq!(ById::from(Colour::Blue), ById::new(Colour::Blue));
    assert_eq!(
        serde_json::to_value(ById::new(Colour::Blue)).unwrap(),
        json!(7)
    );
    let e = serde_json::from_value::<ById<Colour>>(json!("3")).unwrap_err();
    assert!(e.to_string().contains("Colour id 3"), "{e}");
    // By name, as clients also send it: kept as a name.
    let named: ById<Colour> = serde_json::from_value(json!("Blue")).unwrap();
    assert_eq!((named.value, named.named), (Colour::Blue, true));
    round_trip::<ById<Colour>>(json!("Blue"));
    let e = serde_json::from_value::<ById<Colour>>(json!("Green")).unwrap_err();
    assert!(
        e.to_string().contains("Green") && e.to_string().contains("Red, Blue"),
        "{e}"
    );
}

/// Every day from 1600-01-01 to 2400-12-31 follows the one before it (the
/// next day of the month, the 1st of the next month, or New Year), the
/// count is continuous, and the leap rules hold (1900 and 2100 have no
/// 29 February, 1600, 2000 and 2400 have one).
#[test]
fn day_counts_walk_the_gregorian_calendar() {
    use super::{civil_from_days, days_from_civil};
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    let first = days_from_civil(1600, 1, 1);
    let last = days_from_civil(2400, 12, 31);
    let mut prev = civil_from_days(first);
    assert_eq!(prev, (1600, 1, 1));
    for day in first + 1..=last {
        let (y, m, d) = civil_from_days(day);
        assert_eq!(days_from_civil(y, m, d), day);
        let (py, pm, pd) = prev;
        let follows = (y, m, d) == (py, pm, pd + 1)
            || (d == 1 && ((y, m) == (py, pm + 1) || (y, m, pm) == (py + 1, 1, 12)));
        assert!(follows, "{prev:?} -> {:?}", (y, m, d));
        prev = (y, m, d);
    }
    assert_eq!(prev, (2400, 12, 31));
    for (y, leap) in [
        (1600, true),
        (1900, false),
        (2000, true),
        (2024, true),
        (2100, false),
        (2400, true),
    ] {
        let feb29 = civil_from_days(days_from_civil(y, 2, 29));
        assert_eq!(feb29 == (y, 2, 29), leap, "{y}");
    }
}
