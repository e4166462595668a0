//! Checks of the file metadata a host hands to a binding by argument
//! (`startFile(path, mode, mtime)`, a `FileMeta` object), the same in every
//! binding. The snapshot format itself takes any value (a real file may
//! carry a far-future mtime, and restoring it must not fail); these checks
//! guard the API against the usual slips instead: `stat.mode` with its
//! file-type bits where permission bits are meant, a millisecond timestamp
//! (`Date.now()`, `File.lastModified`) where seconds are meant, which would
//! otherwise be stored silently as the year 55000.

use super::FileMeta;
use crate::error::{Error, Result};

/// The largest permission bits: setuid, setgid, sticky, and read, write
/// and execute for the owner, the group and others.
pub const MODE_MAX: u32 = 0o7777;

/// The latest time a host may give in Unix seconds: 5000-01-01T00:00:00Z.
/// Today in milliseconds (about 1.7e12) is far beyond it.
pub const SECONDS_MAX: i64 = 95_617_584_000;

/// The earliest time a host may give in Unix seconds: 0001-01-01T00:00:00Z
/// (a negative millisecond timestamp of the 1930s is below it).
pub const SECONDS_MIN: i64 = -62_135_596_800;

/// The largest sub-second part, in nanoseconds.
pub const NANOS_MAX: u32 = 999_999_999;

/// Permission bits given as argument `name`: a whole number from 0 to
/// [`MODE_MAX`] (`0o7777`).
pub fn check_mode(name: &str, mode: i64) -> Result<u32> {
    match u32::try_from(mode) {
        Ok(m) if m <= MODE_MAX => Ok(m),
        // `stat`'s whole st_mode: say which bits to keep.
        Ok(m) if m >> 12 != 0 && m < 0o200000 => Err(Error::argument(
            name,
            format!(
                "{m:#o} has file-type bits: give the permission bits only \
                 (mode & 0o7777 = {:#o})",
                m & MODE_MAX
            ),
        )),
        _ => Err(Error::argument(
            name,
            format!("{mode} is not permission bits (0 to 0o7777)"),
        )),
    }
}

/// A time given as argument `name` in whole Unix seconds: from
/// [`SECONDS_MIN`] (year 1) to [`SECONDS_MAX`] (year 5000). Beyond that it
/// is refused as most likely milliseconds.
pub fn check_seconds(name: &str, seconds: i64) -> Result<i64> {
    if (SECONDS_MIN..SECONDS_MAX).contains(&seconds) {
        return Ok(seconds);
    }
    Err(Error::argument(
        name,
        format!(
            "{seconds} is not a time in Unix seconds from year 1 to 4999 \
             (milliseconds? divide by 1000)"
        ),
    ))
}

/// A sub-second part given as argument `name`: 0 to [`NANOS_MAX`].
pub fn check_nanos(name: &str, nanos: i64) -> Result<u32> {
    match u32::try_from(nanos) {
        Ok(n) if n <= NANOS_MAX => Ok(n),
        _ => Err(Error::argument(
            name,
            format!("{nanos} is not nanoseconds from 0 to 999999999"),
        )),
    }
}

/// Checks the mode and times of metadata a host built (`meta.mode`,
/// `meta.mtime`...; a `ctime` of 0 means unknown and passes).
pub fn check_meta(name: &str, meta: &FileMeta) -> Result<()> {
    check_mode(&format!("{name}.mode"), i64::from(meta.mode))?;
    check_seconds(&format!("{name}.mtime"), meta.mtime)?;
    check_nanos(&format!("{name}.mtime_nanos"), i64::from(meta.mtime_nanos))?;
    check_seconds(&format!("{name}.ctime"), meta.ctime)?;
    check_nanos(&format!("{name}.ctime_nanos"), i64::from(meta.ctime_nanos))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn reason(e: Error) -> String {
        assert_eq!(e.code(), ErrorCode::InvalidArgument);
        e.details()["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    #[test]
    fn modes_are_permission_bits() {
        assert_eq!(check_mode("mode", 0).ok(), Some(0));
        assert_eq!(check_mode("mode", 0o7777).ok(), Some(0o7777));
        assert_eq!(check_mode("mode", 0o644).ok(), Some(0o644));
        let r = reason(check_mode("mode", 0o100644).unwrap_err());
        assert!(r.contains("file-type bits") && r.contains("0o644"), "{r}");
        assert!(check_mode("mode", -1).is_err());
        assert!(check_mode("mode", 0o10000 * 0o100).is_err());
        assert!(check_mode("mode", i64::from(u32::MAX) + 1).is_err());
    }

    #[test]
    fn milliseconds_are_refused_as_seconds() {
        // 2023-11-14T22:13:20Z in seconds, then in milliseconds.
        assert_eq!(
            check_seconds("mtime", 1_700_000_000).ok(),
            Some(1_700_000_000)
        );
        let e = check_seconds("mtime", 1_700_000_000_000).unwrap_err();
        assert_eq!(e.details()["name"], "mtime");
        assert!(reason(e).contains("milliseconds"));
        assert!(check_seconds("mtime", -1_700_000_000_000).is_err());
        assert!(check_seconds("mtime", SECONDS_MAX - 1).is_ok());
        assert!(check_seconds("mtime", SECONDS_MAX).is_err());
        assert!(check_seconds("mtime", SECONDS_MIN).is_ok());
        assert!(check_seconds("mtime", -1).is_ok());
    }

    #[test]
    fn meta_checks_name_the_member() {
        let mut meta = FileMeta::file("/a", 0o644, 1_700_000_000);
        assert!(check_meta("meta", &meta).is_ok());
        meta.ctime_nanos = 1_000_000_000;
        let e = check_meta("meta", &meta).unwrap_err();
        assert_eq!(e.details()["name"], "meta.ctime_nanos");
        meta.ctime_nanos = 0;
        meta.mtime = 1_700_000_000_000;
        assert_eq!(
            check_meta("meta", &meta).unwrap_err().details()["name"],
            "meta.mtime"
        );
    }
}
