//! A reader for the CBOR coffer writes itself (definite lengths, minimal
//! heads): the shared part of the direct decoders ([`super::tree_fast`],
//! [`super::index_fast`]). Every method returns `None` for anything
//! outside that shape, and the decoders then fall back to serde.

pub(super) struct R<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

const NULL: u8 = 0xf6;

impl<'a> R<'a> {
    pub(super) fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }

    pub(super) fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }

    /// Major type and argument of the next head (definite lengths only).
    pub(super) fn head(&mut self) -> Option<(u8, u64)> {
        let h = self.byte()?;
        let arg = match h & 0x1f {
            n @ 0..=23 => u64::from(n),
            24 => u64::from(self.byte()?),
            25 => u64::from(u16::from_be_bytes(self.take(2)?.try_into().ok()?)),
            26 => u64::from(u32::from_be_bytes(self.take(4)?.try_into().ok()?)),
            27 => u64::from_be_bytes(self.take(8)?.try_into().ok()?),
            _ => return None,
        };
        Some((h >> 5, arg))
    }

    pub(super) fn expect(&mut self, major: u8) -> Option<u64> {
        let (m, arg) = self.head()?;
        (m == major).then_some(arg)
    }

    pub(super) fn uint(&mut self) -> Option<u64> {
        self.expect(0)
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        u32::try_from(self.uint()?).ok()
    }

    pub(super) fn i64(&mut self) -> Option<i64> {
        match self.head()? {
            (0, n) => i64::try_from(n).ok(),
            (1, n) => Some(-1 - i64::try_from(n).ok()?),
            _ => None,
        }
    }

    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.expect(2)?;
        self.take(n)
    }

    pub(super) fn text(&mut self) -> Option<&'a str> {
        let n = self.expect(3)?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    pub(super) fn is_null(&mut self) -> bool {
        if self.b.get(self.i) == Some(&NULL) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn id(&mut self) -> Option<[u8; 32]> {
        self.bytes()?.try_into().ok()
    }
}
