//! The columns `kubectl get csr` shows (upstream's
//! `printCertificateSigningRequest`).

use serde_json::Value;

use super::csr::{APPROVED, DENIED, FAILED};
use crate::table::duration::human_duration;
use crate::table::fields::{age, list_at, name, str_at};
use crate::table::{Cell, Column, Context, KindTable};

/// NAME AGE SIGNERNAME REQUESTOR REQUESTEDDURATION CONDITION.
pub static CSR_TABLE: KindTable = KindTable {
    columns: &[
        Column::name(),
        Column::age(),
        Column::text("SignerName", "The name of the signer asked to sign."),
        Column::text("Requestor", "The user who created the request."),
        Column::text("RequestedDuration", "The validity asked for."),
        Column::text(
            "Condition",
            "Pending, Approved or Denied, then Failed and Issued when they apply.",
        ),
    ],
    cells: csr_cells,
};

fn csr_cells(csr: &Value, ctx: &Context) -> Vec<Cell> {
    let duration = csr["spec"]["expirationSeconds"]
        .as_i64()
        .map(|s| human_duration(chrono::TimeDelta::seconds(s)))
        .unwrap_or_else(|| "<none>".to_string());
    vec![
        name(csr).into(),
        age(csr, ctx.now).into(),
        str_at(csr, &["spec", "signerName"]).into(),
        str_at(csr, &["spec", "username"]).into(),
        duration.into(),
        condition(csr).into(),
    ]
}

/// `Denied` wins over `Approved`, else `Pending`; then `,Failed` and
/// `,Issued` when they apply.
fn condition(csr: &Value) -> String {
    let has = |t: &str| {
        list_at(csr, &["status", "conditions"])
            .iter()
            .any(|c| c["type"] == t && c["status"] != "False")
    };
    let mut out = if has(DENIED) {
        "Denied".to_string()
    } else if has(APPROVED) {
        "Approved".to_string()
    } else {
        "Pending".to_string()
    };
    if has(FAILED) {
        out.push_str(",Failed");
    }
    if !str_at(csr, &["status", "certificate"]).is_empty() {
        out.push_str(",Issued");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_condition_column_reads_as_kubectl_prints_it() {
        let ctx = Context {
            now: chrono::Utc::now(),
            wide: false,
        };
        let pending = json!({"metadata": {"name": "csr-1"}, "spec": {"signerName": "kubernetes.io/kube-apiserver-client-kubelet", "username": "system:bootstrap:abcdef"}});
        let row = CSR_TABLE.row(&pending, &ctx);
        assert_eq!(
            row[2].to_string(),
            "kubernetes.io/kube-apiserver-client-kubelet"
        );
        assert_eq!(row[3].to_string(), "system:bootstrap:abcdef");
        assert_eq!(row[4].to_string(), "<none>");
        assert_eq!(row[5].to_string(), "Pending");
        let issued = json!({"metadata": {"name": "csr-1"}, "spec": {"expirationSeconds": 3600},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "Y2VydA=="}});
        let row = CSR_TABLE.row(&issued, &ctx);
        assert_eq!(row[4].to_string(), "60m");
        assert_eq!(row[5].to_string(), "Approved,Issued");
        let denied = json!({"status": {"conditions": [{"type": "Denied", "status": "True"}, {"type": "Failed", "status": "True"}]}});
        assert_eq!(condition(&denied), "Denied,Failed");
    }
}
