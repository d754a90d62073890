//! Reading a statement's current row into owned cells, through the FFI.

use super::values::Cell;
use super::SqliteError;
use libsqlite3_sys as ffi;
use std::ffi::CStr;
use std::os::raw::c_int;
use std::sync::Arc;

pub(super) fn column_names(s: *mut ffi::sqlite3_stmt) -> Arc<[String]> {
    // SAFETY: a live statement that has a row; names are copied at once.
    unsafe {
        let n = ffi::sqlite3_column_count(s);
        (0..n)
            .map(|i| {
                let p = ffi::sqlite3_column_name(s, i);
                if p.is_null() {
                    String::new()
                } else {
                    CStr::from_ptr(p).to_string_lossy().into_owned()
                }
            })
            .collect()
    }
}

/// Column `i` of the current row, copied.
pub(super) fn cell(s: *mut ffi::sqlite3_stmt, i: c_int) -> Result<Cell, SqliteError> {
    let out_of_memory = || SqliteError {
        code: ffi::SQLITE_NOMEM,
        message: "out of memory reading a returned row".into(),
    };
    // SAFETY: a live statement positioned on a row, `i` within its column count; the
    // text and blob pointers are read (with their byte counts, fetched after them, as
    // SQLite requires) before the next step or reset.
    Ok(unsafe {
        match ffi::sqlite3_column_type(s, i) {
            ffi::SQLITE_INTEGER => Cell::Integer(ffi::sqlite3_column_int64(s, i)),
            ffi::SQLITE_FLOAT => Cell::Real(ffi::sqlite3_column_double(s, i)),
            ffi::SQLITE_TEXT => {
                let p = ffi::sqlite3_column_text(s, i);
                let n = ffi::sqlite3_column_bytes(s, i) as usize;
                // Text, even empty, has a pointer; none means SQLite ran out of memory.
                if p.is_null() {
                    return Err(out_of_memory());
                } else {
                    let bytes = std::slice::from_raw_parts(p, n);
                    Cell::Text(String::from_utf8_lossy(bytes).into_owned())
                }
            }
            ffi::SQLITE_BLOB => {
                let p = ffi::sqlite3_column_blob(s, i);
                let n = ffi::sqlite3_column_bytes(s, i) as usize;
                if p.is_null() && n > 0 {
                    return Err(out_of_memory());
                } else if p.is_null() {
                    Cell::Blob(Vec::new())
                } else {
                    Cell::Blob(std::slice::from_raw_parts(p.cast::<u8>(), n).to_vec())
                }
            }
            _ => Cell::Null,
        }
    })
}
