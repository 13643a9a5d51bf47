//! Traversals of the IR: [`Fold`] rewrites, [`Visit`] inspects.
//!
//! Each method has a default that walks into the children, so a pass overrides only the nodes
//! it cares about (e.g. a field-renaming pass overrides [`Fold::fold_field`] and nothing else).
//! Rebuilt `and`/`or`/`not` nodes go through the normalising constructors, so a pass that
//! replaces a condition with a constant leaves the tree in normal form.

use super::*;

/// An owned rewrite of the IR.
pub trait Fold {
    /// Rewrite a whole query.
    fn fold_query(&mut self, q: Query) -> Query {
        walk_query(self, q)
    }
    /// Rewrite one stage of a sequence or sample.
    fn fold_stage(&mut self, s: Stage) -> Stage {
        Stage {
            event: self.fold_event_query(s.event),
            by: s.by.into_iter().map(|f| self.fold_field(f)).collect(),
            runs: s.runs,
            missing: s.missing,
        }
    }
    /// Rewrite an event query.
    fn fold_event_query(&mut self, e: EventQuery) -> EventQuery {
        EventQuery {
            category: e.category,
            condition: self.fold_expr(e.condition),
        }
    }
    /// Rewrite a condition.
    fn fold_expr(&mut self, e: Expr) -> Expr {
        walk_expr(self, e)
    }
    /// Rewrite a value.
    fn fold_value(&mut self, v: Value) -> Value {
        walk_value(self, v)
    }
    /// Rewrite a field reference.
    fn fold_field(&mut self, f: Field) -> Field {
        f
    }
}

/// The default traversal of [`Fold::fold_query`].
pub fn walk_query<F: Fold + ?Sized>(f: &mut F, q: Query) -> Query {
    let body = match q.body {
        QueryBody::Event(e) => QueryBody::Event(f.fold_event_query(e)),
        QueryBody::Sequence(s) => QueryBody::Sequence(Sequence {
            by: s.by.into_iter().map(|k| f.fold_field(k)).collect(),
            maxspan: s.maxspan,
            stages: s.stages.into_iter().map(|st| f.fold_stage(st)).collect(),
            until: s.until.map(|st| f.fold_stage(st)),
        }),
        QueryBody::Sample(s) => QueryBody::Sample(Sample {
            by: s.by.into_iter().map(|k| f.fold_field(k)).collect(),
            stages: s.stages.into_iter().map(|st| f.fold_stage(st)).collect(),
        }),
    };
    Query {
        body,
        pipes: q.pipes,
    }
}

/// The default traversal of [`Fold::fold_expr`].
pub fn walk_expr<F: Fold + ?Sized>(f: &mut F, e: Expr) -> Expr {
    match e {
        Expr::Bool { .. } => e,
        Expr::And { operands } => Expr::and(operands.into_iter().map(|o| f.fold_expr(o)).collect()),
        Expr::Or { operands } => Expr::or(operands.into_iter().map(|o| f.fold_expr(o)).collect()),
        Expr::Not { operand } => Expr::not(f.fold_expr(*operand)),
        Expr::Compare(c) => Expr::Compare(Compare {
            op: c.op,
            left: f.fold_value(c.left),
            right: f.fold_value(c.right),
            case: c.case,
        }),
        Expr::IsNull { value } => Expr::IsNull {
            value: f.fold_value(value),
        },
        Expr::In(set) => Expr::In(InSet {
            value: f.fold_value(set.value),
            ..set
        }),
        Expr::Like(like) => Expr::Like(Like {
            value: f.fold_value(like.value),
            ..like
        }),
        Expr::Regex(r) => Expr::Regex(RegexMatch {
            value: f.fold_value(r.value),
            ..r
        }),
        Expr::Test { value } => Expr::Test {
            value: f.fold_value(value),
        },
    }
}

/// The default traversal of [`Fold::fold_value`].
pub fn walk_value<F: Fold + ?Sized>(f: &mut F, v: Value) -> Value {
    match v {
        Value::Field(field) => Value::Field(f.fold_field(field)),
        Value::Literal { .. } => v,
        Value::Call(c) => Value::Call(Call {
            function: c.function,
            args: c.args.into_iter().map(|a| f.fold_value(a)).collect(),
            case: c.case,
        }),
        Value::Arithmetic { op, left, right } => Value::Arithmetic {
            op,
            left: Box::new(f.fold_value(*left)),
            right: Box::new(f.fold_value(*right)),
        },
        Value::Negate { operand } => Value::Negate {
            operand: Box::new(f.fold_value(*operand)),
        },
        Value::Condition { condition } => Value::Condition {
            condition: Box::new(f.fold_expr(*condition)),
        },
    }
}

/// A read-only traversal of the IR.
pub trait Visit {
    /// Visit a condition; the default visits its children.
    fn visit_expr(&mut self, e: &Expr) {
        visit_expr_children(self, e);
    }
    /// Visit a value; the default visits its children.
    fn visit_value(&mut self, v: &Value) {
        visit_value_children(self, v);
    }
    /// Visit a field reference (join keys included).
    fn visit_field(&mut self, _f: &Field) {}
}

/// Visit every condition, value and field of a query.
pub fn visit_query<V: Visit + ?Sized>(v: &mut V, q: &Query) {
    let stage = |v: &mut V, st: &Stage| {
        v.visit_expr(&st.event.condition);
        st.by.iter().for_each(|k| v.visit_field(k));
    };
    match &q.body {
        QueryBody::Event(e) => v.visit_expr(&e.condition),
        QueryBody::Sequence(s) => {
            s.by.iter().for_each(|k| v.visit_field(k));
            s.stages.iter().for_each(|st| stage(v, st));
            if let Some(u) = &s.until {
                stage(v, u);
            }
        }
        QueryBody::Sample(s) => {
            s.by.iter().for_each(|k| v.visit_field(k));
            s.stages.iter().for_each(|st| stage(v, st));
        }
    }
}

/// The default traversal of [`Visit::visit_expr`].
pub fn visit_expr_children<V: Visit + ?Sized>(v: &mut V, e: &Expr) {
    match e {
        Expr::Bool { .. } => {}
        Expr::And { operands } | Expr::Or { operands } => {
            operands.iter().for_each(|o| v.visit_expr(o));
        }
        Expr::Not { operand } => v.visit_expr(operand),
        Expr::Compare(c) => {
            v.visit_value(&c.left);
            v.visit_value(&c.right);
        }
        Expr::IsNull { value } | Expr::Test { value } => v.visit_value(value),
        Expr::In(set) => v.visit_value(&set.value),
        Expr::Like(like) => v.visit_value(&like.value),
        Expr::Regex(r) => v.visit_value(&r.value),
    }
}

/// The default traversal of [`Visit::visit_value`].
pub fn visit_value_children<V: Visit + ?Sized>(v: &mut V, value: &Value) {
    match value {
        Value::Field(f) => v.visit_field(f),
        Value::Literal { .. } => {}
        Value::Call(c) => c.args.iter().for_each(|a| v.visit_value(a)),
        Value::Arithmetic { left, right, .. } => {
            v.visit_value(left);
            v.visit_value(right);
        }
        Value::Negate { operand } => v.visit_value(operand),
        Value::Condition { condition } => v.visit_expr(condition),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lowered(text: &str) -> Query {
        let ast = crate::syntax::parse(text).expect("parses");
        lower(&ast).expect("lowers")
    }

    /// A pass that overrides one method: rename fields.
    struct Rename;
    impl Fold for Rename {
        fn fold_field(&mut self, f: Field) -> Field {
            Field {
                name: f.name.replace("process.", "proc."),
                ..f
            }
        }
    }

    #[test]
    fn a_fold_overriding_only_fields_rewrites_every_field() {
        let q = lowered("sequence by process.pid [process where process.name : \"a\" and length(process.args) > 1] [file where true]");
        let out = print::query(&Rename.fold_query(q));
        assert_eq!(
            out,
            "sequence by proc.pid\n  [process where proc.name : \"a\" and length(proc.args) > 1]\n  [file where true]"
        );
    }

    /// A pass that replaces conditions: the result is re-normalised.
    struct DropLikes;
    impl Fold for DropLikes {
        fn fold_expr(&mut self, e: Expr) -> Expr {
            match e {
                Expr::Like(_) => Expr::bool(true),
                other => walk_expr(self, other),
            }
        }
    }

    #[test]
    fn replacing_conditions_with_constants_keeps_normal_form() {
        let q = lowered("process where a : \"x\" or (b == 1 and not c : \"y\")");
        assert_eq!(print::query(&DropLikes.fold_query(q)), "process where true");
        let q = lowered("process where b == 1 and not c : \"y\"");
        assert_eq!(
            print::query(&DropLikes.fold_query(q)),
            "process where false"
        );
        let q = lowered("process where a : \"x\" and b == 1");
        assert_eq!(
            print::query(&DropLikes.fold_query(q)),
            "process where b == 1"
        );
    }

    #[test]
    fn visitors_see_every_field_including_join_keys() {
        struct Fields(Vec<String>);
        impl Visit for Fields {
            fn visit_field(&mut self, f: &Field) {
                self.0.push(f.name.clone());
            }
        }
        let q = lowered("sequence by host.id [process where a == 1] by b [file where startsWith(c, \"x\")] by d");
        let mut fields = Fields(Vec::new());
        visit_query(&mut fields, &q);
        assert_eq!(fields.0, ["host.id", "a", "b", "c", "d"]);
    }
}
