//! Tenant values between BSON and the harness: a tenant field read from a team's database keeps
//! its type ([`TenantValue`]) so that every query the harness sends asks for an ObjectId, an
//! integer or a UUID where the documents hold one, and shows it as plain text.

use mongodb::bson::oid::ObjectId;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{Binary, Bson};

use crate::population::TenantValue;

/// A tenant field's value as the harness keeps it.
pub fn tenant_value(v: &Bson) -> TenantValue {
    match v {
        Bson::String(s) => TenantValue::Text(s.clone()),
        Bson::ObjectId(o) => TenantValue::ObjectId(o.bytes()),
        Bson::Int32(i) => TenantValue::Int32(*i),
        Bson::Int64(i) => TenantValue::Int64(*i),
        Bson::Double(x) => TenantValue::Double(*x),
        Bson::Binary(b) => match (b.subtype, <[u8; 16]>::try_from(b.bytes.as_slice())) {
            (BinarySubtype::Uuid, Ok(u)) => TenantValue::Uuid(u),
            _ => TenantValue::Binary {
                subtype: u8::from(b.subtype),
                bytes: b.bytes.clone(),
            },
        },
        v => TenantValue::Other(v.clone().into_canonical_extjson().to_string()),
    }
}

/// The BSON a query sends for a tenant value: the type it was read in.
pub fn tenant_bson(v: &TenantValue) -> Bson {
    match v {
        TenantValue::Text(s) => Bson::String(s.clone()),
        TenantValue::ObjectId(b) => Bson::ObjectId(ObjectId::from_bytes(*b)),
        TenantValue::Int32(i) => Bson::Int32(*i),
        TenantValue::Int64(i) => Bson::Int64(*i),
        TenantValue::Double(x) => Bson::Double(*x),
        TenantValue::Uuid(u) => Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: u.to_vec(),
        }),
        TenantValue::Binary { subtype, bytes } => Bson::Binary(Binary {
            subtype: BinarySubtype::from(*subtype),
            bytes: bytes.clone(),
        }),
        TenantValue::Other(json) => serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|j| Bson::try_from(j).ok())
            .unwrap_or_else(|| Bson::String(json.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn every_type_goes_back_as_it_came_and_reads_as_plain_text() {
        let oid = ObjectId::parse_str("6b16f749a1b2c3d4e5f60718").expect("oid");
        let uuid = Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: (0u8..16).collect(),
        });
        let legacy = Bson::Binary(Binary {
            subtype: BinarySubtype::UuidOld,
            bytes: vec![0xab; 16],
        });
        let date = Bson::DateTime(mongodb::bson::DateTime::from_millis(1_700_000_000_000));
        let cases = [
            (Bson::String("acme".into()), "acme", "string"),
            (Bson::ObjectId(oid), "6b16f749a1b2c3d4e5f60718", "objectId"),
            (Bson::Int32(42), "42", "int"),
            (Bson::Int64(9_000_000_000), "9000000000", "long"),
            (Bson::Double(7.5), "7.5", "double"),
            (uuid, "00010203-0405-0607-0809-0a0b0c0d0e0f", "uuid"),
            (legacy, &"ab".repeat(16), "binData"),
        ];
        for (bson, text, ty) in cases {
            let v = tenant_value(&bson);
            assert_eq!(v.to_string(), text, "{bson:?}");
            assert_eq!(v.type_name(), ty, "{bson:?}");
            assert_eq!(tenant_bson(&v), bson, "{bson:?} round trip");
        }
        // Any other type survives the round trip through canonical extended JSON.
        assert_eq!(tenant_bson(&tenant_value(&date)), date);
        let d = doc! {"companyId": tenant_bson(&tenant_value(&Bson::ObjectId(oid)))};
        assert_eq!(d.get_object_id("companyId").expect("an ObjectId"), oid);
    }
}
