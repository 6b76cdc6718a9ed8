//! Label selectors (`k8s.io/apimachinery/pkg/labels`) and field selectors
//! (`k8s.io/apimachinery/pkg/fields`).
//!
//! A [`Selector`] is a conjunction of label [`Requirement`]s; it comes from
//! the string syntax of `?labelSelector=` ([`Selector::parse`]) or from the
//! `metav1.LabelSelector` of a workload spec ([`Selector::from_label_selector`]).
//! A [`FieldSelector`] is the much smaller `?fieldSelector=` language.

mod field;
mod parse;

use std::collections::BTreeMap;
use std::fmt;

pub use field::{FieldOp, FieldRequirement, FieldSelector};

use crate::meta::{LabelSelector, LabelSelectorRequirement};
use crate::status::{FieldError, FieldErrors};
use crate::validation;

/// The operator of one label requirement (`selection.Operator` upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LabelOp {
    /// `key=value` / `key==value`: the label is present with this value.
    Equals,
    /// `key!=value`: the label is absent or has another value.
    NotEquals,
    /// `key in (a,b)`: the label is present with one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>N`: the label is an integer greater than N.
    GreaterThan,
    /// `key<N`: the label is an integer less than N.
    LessThan,
}

/// One `key op values` term of a label selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    key: String,
    op: LabelOp,
    /// Sorted and de-duplicated (a set upstream).
    values: Vec<String>,
}

impl Requirement {
    /// Build a requirement, checking it the way `labels.NewRequirement`
    /// does: the key is a qualified name, the values are label values, and
    /// the number of values fits the operator.
    pub fn new(key: &str, op: LabelOp, values: Vec<String>) -> Result<Requirement, String> {
        let mut errs: FieldErrors = validation::qualified_name("key", key);
        match op {
            LabelOp::In | LabelOp::NotIn if values.is_empty() => errs.push(FieldError::invalid(
                "values",
                &values,
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            LabelOp::Equals | LabelOp::NotEquals if values.len() != 1 => {
                errs.push(FieldError::invalid(
                    "values",
                    &values,
                    "exact-match compatibility requires one single value",
                ))
            }
            LabelOp::Exists | LabelOp::DoesNotExist if !values.is_empty() => {
                errs.push(FieldError::invalid(
                    "values",
                    &values,
                    "values set must be empty for exists and does not exist",
                ))
            }
            LabelOp::GreaterThan | LabelOp::LessThan => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        "values",
                        &values,
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(FieldError::invalid(
                            &format!("values[{i}]"),
                            v,
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            errs.extend(validation::label_value(&format!("values[{i}]"), v));
        }
        if !errs.is_empty() {
            return Err(aggregate(&errs));
        }
        let mut values = values;
        values.sort();
        values.dedup();
        Ok(Requirement {
            key: key.to_string(),
            op,
            values,
        })
    }

    /// The label key this requirement tests.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn op(&self) -> LabelOp {
        self.op
    }

    /// The values, sorted and without duplicates (empty for Exists/DoesNotExist).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement (`Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        let has = |v: &String| self.values.binary_search(v).is_ok();
        match self.op {
            LabelOp::Equals | LabelOp::In => value.is_some_and(has),
            LabelOp::NotEquals | LabelOp::NotIn => !value.is_some_and(has),
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                let (Some(Ok(actual)), [wanted]) =
                    (value.map(|v| v.parse::<i64>()), &self.values[..])
                else {
                    return false;
                };
                let Ok(wanted) = wanted.parse::<i64>() else {
                    return false;
                };
                if self.op == LabelOp::GreaterThan {
                    actual > wanted
                } else {
                    actual < wanted
                }
            }
        }
    }
}

/// Join errors as `utilerrors.NewAggregate` prints them.
fn aggregate(errs: &[FieldError]) -> String {
    match errs {
        [one] => one.to_string(),
        many => {
            let list: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("[{}]", list.join(", "))
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == LabelOp::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let values = self.values.join(",");
        match self.op {
            LabelOp::Exists | LabelOp::DoesNotExist => Ok(()),
            LabelOp::Equals => write!(f, "={values}"),
            LabelOp::NotEquals => write!(f, "!={values}"),
            LabelOp::GreaterThan => write!(f, ">{values}"),
            LabelOp::LessThan => write!(f, "<{values}"),
            LabelOp::In => write!(f, " in ({values})"),
            LabelOp::NotIn => write!(f, " notin ({values})"),
        }
    }
}

/// A label selector: every requirement must match. No requirements means
/// the selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    /// Sorted by key, then by printed form.
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parse the string syntax of `?labelSelector=` exactly as
    /// `labels.Parse` does: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
    /// `a notin (x,y)`, `a`, `!a`, `a>1`, `a<1`, comma-separated. The empty
    /// string selects everything.
    pub fn parse(s: &str) -> Result<Selector, String> {
        parse::parse(s).map(Selector::from_requirements)
    }

    /// `metav1.LabelSelectorAsSelector`: `matchLabels` become `=`
    /// requirements, `matchExpressions` map `In`/`NotIn`/`Exists`/
    /// `DoesNotExist`. An empty LabelSelector selects everything.
    pub fn from_label_selector(ls: &LabelSelector) -> Result<Selector, String> {
        let mut reqs = Vec::with_capacity(ls.match_labels.len() + ls.match_expressions.len());
        for (k, v) in &ls.match_labels {
            reqs.push(Requirement::new(k, LabelOp::Equals, vec![v.clone()])?);
        }
        for expr in &ls.match_expressions {
            let op = match expr.operator.as_str() {
                "In" => LabelOp::In,
                "NotIn" => LabelOp::NotIn,
                "Exists" => LabelOp::Exists,
                "DoesNotExist" => LabelOp::DoesNotExist,
                other => return Err(format!("{other:?} is not a valid label selector operator")),
            };
            reqs.push(Requirement::new(&expr.key, op, expr.values.clone())?);
        }
        Ok(Selector::from_requirements(reqs))
    }

    /// `labels.SelectorFromSet`: every label in the map must be present with
    /// that value (a Service's `spec.selector`). An empty map selects
    /// everything. Fails when a key or value is not valid label syntax.
    pub fn from_map(labels: &BTreeMap<String, String>) -> Result<Selector, String> {
        let reqs = labels
            .iter()
            .map(|(k, v)| Requirement::new(k, LabelOp::Equals, vec![v.clone()]))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Selector::from_requirements(reqs))
    }

    /// A selector from already-checked requirements (sorted by key here).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Selector {
        // By key, as upstream; ties by the printed form so that equal sets
        // of requirements give equal selectors whatever order they came in.
        requirements.sort_by_cached_key(|r| (r.key.clone(), r.to_string()));
        Selector { requirements }
    }

    /// The selector that matches every label set.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// True when there are no requirements (the selector matches everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl fmt::Display for Selector {
    /// The canonical string: requirements sorted by key, values sorted,
    /// comma-separated (`a=b,c!=d,e in (x,y),f,!g`). Parses back to an equal selector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Selector {
    type Err = String;
    fn from_str(s: &str) -> Result<Selector, String> {
        Selector::parse(s)
    }
}

/// Validate a `metav1.LabelSelector` found at `field` (e.g. `spec.selector`)
/// as `metav1validation.ValidateLabelSelector` does.
pub fn validate_label_selector(field: &str, ls: &LabelSelector) -> FieldErrors {
    let mut errs = validation::labels(&format!("{field}.matchLabels"), &ls.match_labels);
    for (i, expr) in ls.match_expressions.iter().enumerate() {
        errs.extend(validate_requirement(
            &format!("{field}.matchExpressions[{i}]"),
            expr,
        ));
    }
    errs
}

fn validate_requirement(field: &str, r: &LabelSelectorRequirement) -> FieldErrors {
    let mut errs = Vec::new();
    let values_field = format!("{field}.values");
    match r.operator.as_str() {
        "In" | "NotIn" => {
            if r.values.is_empty() {
                errs.push(FieldError::required(
                    &values_field,
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !r.values.is_empty() {
                errs.push(FieldError::forbidden(
                    &values_field,
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &format!("{field}.operator"),
            other,
            "not a valid selector operator",
        )),
    }
    errs.extend(validation::qualified_name(&format!("{field}.key"), &r.key));
    for (i, v) in r.values.iter().enumerate() {
        errs.extend(validation::label_value(&format!("{values_field}[{i}]"), v));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn empty_selects_everything() {
        for s in ["", "  ", "\t\n"] {
            let x = sel(s);
            assert!(x.is_empty());
            assert_eq!(x, Selector::everything());
            assert!(x.matches(&labels(&[])));
            assert!(x.matches(&labels(&[("a", "b")])));
            assert_eq!(x.to_string(), "");
        }
    }

    #[test]
    fn equality_operators() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(sel("app=web").matches(&l));
        assert!(sel("app==web").matches(&l));
        assert!(sel("app = web , tier==front").matches(&l));
        assert!(!sel("app=db").matches(&l));
        assert!(!sel("missing=x").matches(&l));
        assert!(sel("app!=db").matches(&l));
        assert!(!sel("app!=web").matches(&l));
        // != also matches when the label is absent
        assert!(sel("missing!=x").matches(&l));
        // `a=` means the label is present and empty
        assert!(sel("e=").matches(&labels(&[("e", "")])));
        assert!(!sel("e=").matches(&l));
        assert_eq!(sel("app==web"), sel("app=web"));
        assert_eq!(sel("app,app!=x"), sel("app!=x,app"));
    }

    #[test]
    fn set_operators() {
        let l = labels(&[("env", "prod")]);
        assert!(sel("env in (prod, staging)").matches(&l));
        assert!(sel("env in(prod)").matches(&l));
        assert!(!sel("env in (dev)").matches(&l));
        assert!(!sel("other in (prod)").matches(&l));
        assert!(sel("env notin (dev,qa)").matches(&l));
        assert!(!sel("env notin (prod)").matches(&l));
        assert!(sel("other notin (prod)").matches(&l));
        // keywords are plain identifiers in value position
        assert!(sel("x in (in,notin)").matches(&labels(&[("x", "notin")])));
        assert!(sel("x=in").matches(&labels(&[("x", "in")])));
        // empty value forms
        assert_eq!(sel("x in ()").requirements()[0].values(), [""]);
        assert_eq!(sel("x in (,a)").requirements()[0].values(), ["", "a"]);
        assert_eq!(sel("x in (a,)").requirements()[0].values(), ["", "a"]);
        assert_eq!(
            sel("x in (a,,b)").requirements()[0].values(),
            ["", "a", "b"]
        );
        assert_eq!(sel("x in (b,a,b)").requirements()[0].values(), ["a", "b"]);
    }

    #[test]
    fn existence_operators() {
        let l = labels(&[("a", "1")]);
        assert!(sel("a").matches(&l));
        assert!(!sel("b").matches(&l));
        assert!(sel("!b").matches(&l));
        assert!(sel(" ! b ").matches(&l));
        assert!(!sel("!a").matches(&l));
        assert!(sel("a,!b").matches(&l));
    }

    #[test]
    fn numeric_operators() {
        let l = labels(&[("n", "5"), ("s", "x")]);
        assert!(sel("n>4").matches(&l));
        assert!(!sel("n>5").matches(&l));
        assert!(sel("n<6").matches(&l));
        assert!(!sel("m<6").matches(&l));
        assert!(!sel("s<6").matches(&l));
        assert!(Selector::parse("n>x").is_err());
        assert!(Selector::parse("n>").is_err());
    }

    #[test]
    fn canonical_display_sorted_by_key() {
        let s = sel("g notin (z,y), !f, e in (y,x), a==b,c!=d,b, n>3, m<2");
        assert_eq!(
            s.to_string(),
            "a=b,b,c!=d,e in (x,y),!f,g notin (y,z),m<2,n>3"
        );
        assert_eq!(
            sel("e2 notin (z),f,!g,a=b,c!=d,e in (y,x)").to_string(),
            "a=b,c!=d,e in (x,y),e2 notin (z),f,!g"
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "a=b",
            "a!=b",
            "a=",
            "a in (x,y,z)",
            "a notin (x)",
            "a in ()",
            "a in (,x)",
            "a",
            "!a",
            "a>1,b<2",
            "example.com/key=v.1_x,app in (web),!legacy,tier",
            "a=b,a!=c,a",
            "!a,a in (x)",
        ] {
            let x = sel(s);
            let printed = x.to_string();
            assert_eq!(sel(&printed), x, "{s:?} printed as {printed:?}");
            assert_eq!(sel(&printed).to_string(), printed);
        }
    }

    #[test]
    fn parse_errors() {
        let cases = [
            ("a=b,", "found '', expected: identifier after ','"),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a in x", "found 'x' expected: '('"),
            ("a in (x", "found '', expected: ',' or ')'"),
            ("a in (x y)", "found 'y', expected: ',' or ')'"),
            ("a in (=)", "found '=', expected: ',', ')' or identifier"),
            ("!", "found '', expected: identifier"),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            (
                "=b",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            ("a==(b)", "found '(', expected: identifier"),
        ];
        for (input, want) in cases {
            let err = Selector::parse(input).unwrap_err();
            assert!(err.contains(want), "{input:?}: got {err:?}, want {want:?}");
        }
        let err = Selector::parse("bad key!x=y").unwrap_err();
        assert!(err.starts_with("unable to parse requirement: "), "{err}");
        let err = Selector::parse("a/b/c=x").unwrap_err();
        assert!(
            err.starts_with("unable to parse requirement: key: Invalid value: \"a/b/c\""),
            "{err}"
        );
        let err = Selector::parse("a=-bad-").unwrap_err();
        assert!(err.contains("values[0]: Invalid value: \"-bad-\""), "{err}");
        let err = Selector::parse(&format!("a={}", "x".repeat(64))).unwrap_err();
        assert!(err.contains("must be no more than 63 characters"), "{err}");
    }

    #[test]
    fn from_label_selector() {
        let ls = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: vec!["front".into(), "edge".into()],
                },
                LabelSelectorRequirement {
                    key: "legacy".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ],
        };
        let s = Selector::from_label_selector(&ls).unwrap();
        assert_eq!(s.to_string(), "app=web,!legacy,tier in (edge,front)");
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "back")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "edge"), ("legacy", "")])));

        let empty = Selector::from_label_selector(&LabelSelector::default()).unwrap();
        assert!(empty.is_empty());
        assert!(empty.matches(&labels(&[("x", "y")])));

        let bad = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Gt".into(),
                values: vec!["1".into()],
            }],
            ..Default::default()
        };
        assert_eq!(
            Selector::from_label_selector(&bad).unwrap_err(),
            "\"Gt\" is not a valid label selector operator"
        );
        let no_values = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: vec![],
            }],
            ..Default::default()
        };
        assert!(Selector::from_label_selector(&no_values).is_err());
    }

    #[test]
    fn from_map() {
        let s = Selector::from_map(&labels(&[("b", "2"), ("a", "1")])).unwrap();
        assert_eq!(s.to_string(), "a=1,b=2");
        assert!(Selector::from_map(&BTreeMap::new()).unwrap().is_empty());
        assert!(Selector::from_map(&labels(&[("bad key", "x")])).is_err());
    }

    #[test]
    fn validate() {
        let ok = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Exists".into(),
                values: vec![],
            }],
        };
        assert!(validate_label_selector("spec.selector", &ok).is_empty());

        let bad = LabelSelector {
            match_labels: labels(&[("app", "-x")]),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "a".into(),
                    operator: "In".into(),
                    values: vec![],
                },
                LabelSelectorRequirement {
                    key: "b".into(),
                    operator: "Exists".into(),
                    values: vec!["v".into()],
                },
                LabelSelectorRequirement {
                    key: "bad key".into(),
                    operator: "Equals".into(),
                    values: vec!["-v".into()],
                },
            ],
        };
        let errs = validate_label_selector("spec.selector", &bad);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.selector.matchLabels",
                "spec.selector.matchExpressions[0].values",
                "spec.selector.matchExpressions[1].values",
                "spec.selector.matchExpressions[2].operator",
                "spec.selector.matchExpressions[2].key",
                "spec.selector.matchExpressions[2].values[0]",
            ]
        );
        assert_eq!(
            errs[1].to_string(),
            "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        assert_eq!(
            errs[3].to_string(),
            "spec.selector.matchExpressions[2].operator: Invalid value: \"Equals\": not a valid selector operator"
        );
    }
}
