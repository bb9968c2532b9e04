//! Generator determinism and the golden checksum: a change to the generator's output must be a
//! visible decision (bump DATAGEN_VERSION and this checksum together).

use tenantbench::backend::mongo::raw_document;
use tenantbench::datagen::{Collection, DATAGEN_VERSION, Digest, expected_digest, generate};

use crate::util::tiny;

#[test]
fn same_inputs_give_the_same_bytes_and_another_seed_other_bytes() {
    for c in Collection::ALL {
        for o in [0u64, 1, 999, 123_456_789] {
            let a = raw_document(&generate(11, "t00017", c, o));
            let b = raw_document(&generate(11, "t00017", c, o));
            assert_eq!(a.as_bytes(), b.as_bytes(), "{c:?} {o}");
            let other = raw_document(&generate(12, "t00017", c, o));
            assert_ne!(
                a.as_bytes(),
                other.as_bytes(),
                "{c:?} {o}: another seed, same bytes"
            );
        }
    }
}

/// Digest of the whole tiny dataset (30 tenants, 3,000 documents, seed 7).
fn tiny_digest() -> Digest {
    let s = tiny("tb_golden", 30, 3000, "");
    let pop = s.build_population();
    let mut total = Digest::default();
    for t in &pop.tenants {
        for c in Collection::ALL {
            let d = expected_digest(s.seed, &t.id, c, t.count(c));
            total.count += d.count;
            total.checksum = total.checksum.wrapping_add(d.checksum);
        }
    }
    total
}

#[test]
fn golden_checksum_of_a_tiny_scenario() {
    let d = tiny_digest();
    assert_eq!(d.count, 3000);
    assert_eq!(
        DATAGEN_VERSION, 1,
        "bump the golden checksum together with DATAGEN_VERSION"
    );
    assert_eq!(
        format!("{:032x}", d.checksum),
        GOLDEN,
        "the generator's output changed: if intended, bump DATAGEN_VERSION and update GOLDEN"
    );
}

const GOLDEN: &str = "7b3d5bbe7fcbef46712bebc2f7043141";
