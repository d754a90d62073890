//! Where the bundle's static data went: bytes of data segments in the main module and in
//! the modules the splitter made (`cargo leptos build --split`).
//!
//! The splitter (wasm_split_cli_support 0.2.3, inside cargo-leptos) lays each output
//! module's data out again inside the segment the linker wrote; when that comes out longer
//! than the segment, it gives up and leaves all of the data in the main module, so a first
//! visit downloads every lazy island's strings and tables too (about 35 kB gzip when the
//! pages were lazy routes). The frontend keeps room for that (`SPLIT_DATA_SLACK` in
//! `frontend/src/lib.rs`); this is the check that the room sufficed. `promptlab-bench wasm-data --site DIR` fails when
//! the bundle has lazy modules and they carry less than 1 % of its data.

use std::path::Path;

/// Bytes of data segment contents in one wasm module.
pub fn data_bytes(wasm: &[u8]) -> Result<u64, String> {
    let mut r = Reader { b: wasm, at: 0 };
    if r.take(4)? != b"\0asm" {
        return Err("not a wasm module".into());
    }
    r.take(4)?;
    let mut total = 0;
    while r.at < wasm.len() {
        let id = r.byte()?;
        let len = r.uleb()? as usize;
        let body = r.take(len)?;
        if id == 11 {
            total += segments(body)?;
        }
    }
    Ok(total)
}

fn segments(section: &[u8]) -> Result<u64, String> {
    let mut r = Reader { b: section, at: 0 };
    let mut total = 0;
    for _ in 0..r.uleb()? {
        match r.uleb()? {
            0 => r.const_expr()?,
            1 => {}
            2 => {
                r.uleb()?;
                r.const_expr()?
            }
            other => return Err(format!("data segment kind {other}")),
        }
        let len = r.uleb()?;
        r.take(len as usize)?;
        total += len;
    }
    Ok(total)
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or("truncated wasm")?;
        let out = &self.b[self.at..end];
        self.at = end;
        Ok(out)
    }
    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    /// An unsigned or signed LEB128 number; only its length matters for signed ones.
    fn uleb(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let x = self.byte()?;
            v |= u64::from(x & 0x7f) << shift;
            if x < 0x80 {
                return Ok(v);
            }
        }
        Err("LEB128 number too long".into())
    }
    /// A constant expression up to its `end`: constants, `global.get` and the extended
    /// constant arithmetic.
    fn const_expr(&mut self) -> Result<(), String> {
        loop {
            match self.byte()? {
                0x0b => return Ok(()),
                0x41 | 0x42 | 0x23 => {
                    self.uleb()?;
                }
                0x6a..=0x6c | 0x7c..=0x7e => {}
                op => return Err(format!("opcode {op:#04x} in a constant expression")),
            }
        }
    }
}

/// Data bytes of the main module and of all the splitter's modules in `pkg`.
pub struct DataSplit {
    pub main: u64,
    pub lazy: u64,
    pub lazy_modules: usize,
}

impl DataSplit {
    /// False when there are lazy modules and the main module holds (nearly) all of the
    /// data: when the splitter gives up on the read-only segment, the lazy modules keep
    /// only what the small writable segments held, a few bytes (21 of 171,827 once).
    pub fn split(&self) -> bool {
        self.lazy_modules == 0 || self.lazy * 100 >= self.main + self.lazy
    }

    pub fn describe(&self) -> String {
        let kb = |b: u64| b as f64 / 1000.0;
        let all = self.main + self.lazy;
        if self.split() {
            format!(
                "Static data: {:.1} kB of {:.1} kB in the main module, the rest in the {} lazy modules (the splitter split it by lazy island).",
                kb(self.main),
                kb(all),
                self.lazy_modules
            )
        } else {
            format!(
                "Static data: **{:.1} kB of {:.1} kB in the main module**, {} bytes in the {} lazy modules: the splitter found no room to lay it out by module (see `frontend/src/lib.rs`, `SPLIT_DATA_SLACK`).",
                kb(self.main),
                kb(all),
                self.lazy,
                self.lazy_modules
            )
        }
    }
}

/// Reads `promptlab.wasm` and every other wasm file in `pkg`.
pub fn data_split(pkg: &Path) -> Result<DataSplit, String> {
    let main_path = pkg.join("promptlab.wasm");
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let main = data_bytes(&read(&main_path)?)?;
    let (mut lazy, mut lazy_modules) = (0, 0);
    let entries = std::fs::read_dir(pkg).map_err(|e| format!("{}: {e}", pkg.display()))?;
    for e in entries {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().and_then(|x| x.to_str()) == Some("wasm") && p != main_path {
            lazy += data_bytes(&read(&p)?).map_err(|e| format!("{}: {e}", p.display()))?;
            lazy_modules += 1;
        }
    }
    Ok(DataSplit {
        main,
        lazy,
        lazy_modules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module with a memory and the given data section body.
    fn module(data: &[u8]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend([5, 3, 1, 0, 1]); // memory section: one memory, min 1 page
        m.push(11);
        m.push(data.len() as u8);
        m.extend(data);
        m.extend([0, 4, 3, b'a', b'b', b'c']); // a custom section after it
        m
    }

    #[test]
    fn counts_the_bytes_of_active_and_passive_segments() {
        let data = [
            3, // three segments
            0, 0x41, 0x80, 0x80, 0x40, 0x0b, 3, b'x', b'y', b'z', // active, i32.const 1 MiB
            1, 2, 1, 2, // passive, two bytes
            2, 0, 0x23, 0, 0x41, 8, 0x6a, 0x0b, 1, 9, // memory 0, global.get 0 + 8
        ];
        assert_eq!(data_bytes(&module(&data)), Ok(6));
        assert_eq!(data_bytes(&module(&[0])), Ok(0));
        assert_eq!(data_bytes(b"\0asm\x01\0\0\0"), Ok(0));
    }

    #[test]
    fn refuses_what_is_not_a_whole_module() {
        assert!(data_bytes(b"\x7fELF").is_err());
        let data = [1, 0, 0x41, 0, 0x0b, 9, b'x']; // says 9 bytes, has 1
        assert!(data_bytes(&module(&data)).is_err());
        let data = [1, 0, 0x10, 0, 0x0b, 0]; // a call in a constant expression
        assert!(data_bytes(&module(&data)).is_err());
        let mut cut = module(&[1, 1, 2, 1, 2]);
        cut.truncate(cut.len() - 5);
        assert!(data_bytes(&cut).is_err());
    }

    #[test]
    fn all_data_in_main_with_lazy_modules_is_not_split() {
        let s = |main, lazy, lazy_modules| DataSplit {
            main,
            lazy,
            lazy_modules,
        };
        assert!(s(95_611, 77_053, 41).split());
        assert!(!s(171_835, 0, 41).split());
        assert!(!s(171_806, 21, 47).split());
        assert!(s(171_835, 0, 0).split());
        assert!(s(171_806, 21, 47)
            .describe()
            .contains("**171.8 kB of 171.8 kB in the main"));
    }

    #[test]
    fn reads_a_split_bundle_from_its_directory() {
        let dir = std::env::temp_dir().join(format!("wasm-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = [1, 1, 4, 1, 2, 3, 4];
        std::fs::write(dir.join("promptlab.wasm"), module(&one)).unwrap();
        std::fs::write(dir.join("chunk_1.wasm"), module(&[0])).unwrap();
        std::fs::write(dir.join("promptlab.js"), "x").unwrap();
        let s = data_split(&dir).unwrap();
        assert_eq!((s.main, s.lazy, s.lazy_modules), (4, 0, 1));
        assert!(!s.split());
        std::fs::write(dir.join("split_page.wasm"), module(&one)).unwrap();
        let s = data_split(&dir).unwrap();
        assert_eq!((s.main, s.lazy, s.lazy_modules), (4, 4, 2));
        assert!(s.split());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
