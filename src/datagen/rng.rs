//! The generator's random number source: wyrand, defined here so its output can never change
//! under us with a dependency upgrade.

use rand::rand_core::{Infallible, TryRng};

/// wyrand (Wang Yi): one 64-bit state, one multiply per output; passes BigCrush and PractRand,
/// and is far faster than the generator needs. Not cryptographic.
#[derive(Debug, Clone)]
pub struct WyRand {
    state: u64,
}

impl WyRand {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> WyRand {
        WyRand { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        (t as u64) ^ ((t >> 64) as u64)
    }
}

impl TryRng for WyRand {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.next_u64() >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_wyrand() {
        // The first outputs of the reference wyrand seeded with 0 (computed independently); a
        // change here would change every dataset.
        let mut r = WyRand::new(0);
        assert_eq!(r.next_u64(), 0x111c_b3a7_8f59_a58e);
        assert_eq!(r.next_u64(), 0xceab_d938_ff4e_856d);
    }
}
