//! Harness benchmark: how fast the generator makes records (canonical form, BSON, hashing).
//! The target: `orders` records at >= 300,000 per second on one core.
//!
//! Run: `cargo bench --bench harness_datagen`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tenantbench::backend::mongo::raw_document;
use tenantbench::datagen::{CanonicalEncoder, Collection, generate};

const BATCH: u64 = 10_000;

fn generation(c: &mut Criterion) {
    let mut g = c.benchmark_group("generate");
    g.throughput(Throughput::Elements(BATCH));
    for coll in Collection::ALL {
        g.bench_with_input(
            BenchmarkId::new("record", coll.name()),
            &coll,
            |b, &coll| {
                b.iter(|| {
                    for o in 0..BATCH {
                        black_box(generate(42, "t00042", coll, o));
                    }
                })
            },
        );
    }
    g.bench_function("orders+bson", |b| {
        b.iter(|| {
            for o in 0..BATCH {
                black_box(raw_document(&generate(42, "t00042", Collection::Orders, o)));
            }
        })
    });
    g.bench_function("orders+hash", |b| {
        let mut enc = CanonicalEncoder::default();
        b.iter(|| {
            for o in 0..BATCH {
                black_box(enc.record(&generate(42, "t00042", Collection::Orders, o)));
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = generation
}
criterion_main!(benches);
