//! Parsing a JSONPath template into text, expressions and ranges, with
//! the grammar and the error messages of client-go's parser.

use super::JsonPathError;

/// One piece of a template.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Node {
    /// Text printed as is.
    Text(String),
    /// `{...}`: an expression whose results are printed.
    Expr(Path),
    /// `{range EXPR}BODY{end}`: BODY once for every result of EXPR.
    Range { expr: Path, body: Vec<Node> },
}

/// Steps applied one after another, starting from the current object.
pub(super) type Path = Vec<Step>;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Step {
    /// `.name`: a key of an object (an empty name keeps the object).
    Field(String),
    /// `.*`: every value of an object or list.
    Wildcard,
    /// `..`: the value and every map or list nested in it.
    Recursive,
    /// `[i]`, `[a:b]`, `[a:b:step]`, `[*]`.
    Slice(Slice),
    /// `[?(left OP right)]` or `[?(path)]`.
    Filter(Box<Filter>),
    /// `[a,b]`: the results of each alternative, one after another.
    Union(Vec<Path>),
    /// A literal: `"text"`, `3`, `1.5`, `true`.
    Literal(Literal),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Literal {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One bound of a slice: `known` is false when it was left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Bound {
    pub value: i64,
    pub known: bool,
    /// The end of `[i]`, derived as `i + 1`.
    pub derived: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slice {
    pub start: Bound,
    pub end: Bound,
    pub step: Bound,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Filter {
    pub left: Path,
    /// `None` for an existence test (`[?(@.name)]`).
    pub comparison: Option<(Op, Path)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

fn error(message: impl Into<String>) -> JsonPathError {
    JsonPathError(message.into())
}

/// Parse a whole template.
pub(super) fn parse(template: &str) -> Result<Vec<Node>, JsonPathError> {
    let mut stack: Vec<(Path, Vec<Node>)> = Vec::new();
    let mut nodes = Vec::new();
    for piece in split(template)? {
        match piece {
            Piece::Text(text) => nodes.push(Node::Text(text)),
            Piece::Action(action) => match action {
                Action::Expr(path) => nodes.push(Node::Expr(path)),
                Action::Range(expr) => stack.push((expr, std::mem::take(&mut nodes))),
                Action::End => {
                    let (expr, outer) = stack
                        .pop()
                        .ok_or_else(|| error("not in range, nothing to end"))?;
                    let body = std::mem::replace(&mut nodes, outer);
                    nodes.push(Node::Range { expr, body });
                }
            },
        }
    }
    // A range left open runs to the end of the template, as upstream.
    while let Some((expr, outer)) = stack.pop() {
        let body = std::mem::replace(&mut nodes, outer);
        nodes.push(Node::Range { expr, body });
    }
    Ok(nodes)
}

enum Piece {
    Text(String),
    Action(Action),
}

enum Action {
    Expr(Path),
    Range(Path),
    End,
}

/// Cut the template into literal text and `{...}` actions.
fn split(template: &str) -> Result<Vec<Piece>, JsonPathError> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_string()));
        }
        let mut parser = Parser::new(&rest[open + 1..]);
        let tokens = parser.action()?;
        pieces.push(Piece::Action(classify(tokens)?));
        rest = parser.rest();
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_string()));
    }
    Ok(pieces)
}

/// What an action holds: steps, and the keywords `range` and `end`.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    Step(Step),
    Range,
    End,
}

/// Tell `{range EXPR}` and `{end}` from expressions.
fn classify(tokens: Vec<Token>) -> Result<Action, JsonPathError> {
    match tokens.split_first() {
        Some((Token::Range, rest)) => Ok(Action::Range(steps(rest.to_vec())?)),
        Some((Token::End, [])) => Ok(Action::End),
        _ => Ok(Action::Expr(steps(tokens)?)),
    }
}

/// The steps of an expression, which may not hold keywords.
fn steps(tokens: Vec<Token>) -> Result<Path, JsonPathError> {
    tokens
        .into_iter()
        .map(|token| match token {
            Token::Step(step) => Ok(step),
            Token::Range => Err(error("unrecognized identifier range")),
            Token::End => Err(error("unrecognized identifier end")),
        })
        .collect()
}

/// Reads the inside of one action.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Parser<'a> {
        Parser { input, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// The tokens up to the closing `}` (consumed).
    fn action(&mut self) -> Result<Vec<Token>, JsonPathError> {
        let mut path = Vec::new();
        loop {
            let rest = self.rest();
            if rest.starts_with('}') {
                self.pos += 1;
                return Ok(path);
            }
            if rest.starts_with("[?(") {
                self.pos += 3;
                path.push(Token::Step(self.filter()?));
                continue;
            }
            if rest.starts_with("..") {
                if path.last() == Some(&Token::Step(Step::Recursive)) {
                    return Err(error("invalid multiple recursive descent"));
                }
                self.pos += 2;
                path.push(Token::Step(Step::Recursive));
                if self.peek().is_some_and(is_alphanumeric) {
                    path.push(Token::Step(self.field()));
                }
                continue;
            }
            match self.peek() {
                None | Some('\r' | '\n') => return Err(error("unclosed action")),
                Some(' ' | '\t' | '@' | '$') => {
                    self.bump();
                }
                Some('[') => {
                    self.bump();
                    path.extend(self.bracket()?.into_iter().map(Token::Step));
                }
                Some(quote @ ('"' | '\'')) => {
                    self.bump();
                    let text = self.quoted(quote)?;
                    path.push(Token::Step(Step::Literal(Literal::Text(text))));
                }
                Some('.') => {
                    self.bump();
                    path.push(Token::Step(self.field()));
                }
                Some(c) if c == '+' || c == '-' || c.is_ascii_digit() => {
                    path.push(Token::Step(Step::Literal(self.number()?)));
                }
                Some(c) if is_alphanumeric(c) => path.push(self.identifier()?),
                Some(c) => {
                    return Err(error(format!(
                        "unrecognized character in action: U+{:04X} '{c}'",
                        c as u32
                    )))
                }
            }
        }
    }

    /// A field name after `.`, up to an unescaped terminator; `\.` keeps a
    /// dot in the name.
    fn field(&mut self) -> Step {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' {
                self.bump();
                if let Some(escaped) = self.bump() {
                    name.push(escaped);
                }
            } else if is_terminator(c) {
                break;
            } else {
                name.push(c);
                self.bump();
            }
        }
        if name == "*" {
            Step::Wildcard
        } else {
            Step::Field(name)
        }
    }

    /// `range`, `end`, `true`, `false`.
    fn identifier(&mut self) -> Result<Token, JsonPathError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| !is_terminator(c)) {
            self.bump();
        }
        match &self.input[start..self.pos] {
            "range" => Ok(Token::Range),
            "end" => Ok(Token::End),
            "true" => Ok(Token::Step(Step::Literal(Literal::Bool(true)))),
            "false" => Ok(Token::Step(Step::Literal(Literal::Bool(false)))),
            other => Err(error(format!("unrecognized identifier {other}"))),
        }
    }

    fn number(&mut self) -> Result<Literal, JsonPathError> {
        let start = self.pos;
        if matches!(self.peek(), Some('+' | '-')) {
            self.bump();
        }
        while self.peek().is_some_and(|c| c == '.' || c.is_ascii_digit()) {
            self.bump();
        }
        let text = &self.input[start..self.pos];
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Literal::Int(i));
        }
        text.parse::<f64>()
            .map(Literal::Float)
            .map_err(|_| error(format!("cannot parse number {text}")))
    }

    /// A quoted string (opening quote consumed), with Go's escapes.
    fn quoted(&mut self, quote: char) -> Result<String, JsonPathError> {
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.bump() {
                None | Some('\n') => return Err(error("unterminated quoted string")),
                Some('\\') if !escaped => escaped = true,
                Some(c) if c == quote && !escaped => break,
                Some(_) => escaped = false,
            }
        }
        let raw = &self.input[start..self.pos - 1];
        unquote(raw, quote).ok_or_else(|| {
            error(format!(
                "unquote string {quote}{raw}{quote} error invalid syntax"
            ))
        })
    }

    /// What follows `[` up to the first `]`: an index or slice, `*`, a
    /// quoted key, or a comma-separated union of those.
    fn bracket(&mut self) -> Result<Path, JsonPathError> {
        let Some(len) = self.rest().find(['\n', ']']) else {
            return Err(error("unterminated array"));
        };
        if self.rest()[len..].starts_with('\n') {
            return Err(error("unterminated array"));
        }
        let text = &self.rest()[..len];
        self.pos += len + 1;
        subscript(text)
    }

    /// A filter (`[?(` consumed) up to `)]`.
    fn filter(&mut self) -> Result<Step, JsonPathError> {
        let start = self.pos;
        let mut quote = None;
        loop {
            let prev = self.input[..self.pos].chars().last();
            match self.bump() {
                None | Some('\n') => return Err(error("unterminated filter")),
                Some(c @ ('"' | '\'')) => match quote {
                    None => quote = Some(c),
                    Some(q) if q == c && prev != Some('\\') => quote = None,
                    Some(_) => {}
                },
                Some(')') if quote.is_none() => break,
                Some(_) => {}
            }
        }
        let text = &self.input[start..self.pos - 1];
        if self.bump() != Some(']') {
            return Err(error("unclosed array expect ]"));
        }
        let filter = match split_comparison(text) {
            None => Filter {
                left: sub_action(text)?,
                comparison: None,
            },
            Some((left, op, right)) => Filter {
                left: sub_action(left)?,
                comparison: Some((op, sub_action(right)?)),
            },
        };
        Ok(Step::Filter(Box::new(filter)))
    }
}

/// Parse `text` as the inside of an action of its own.
fn sub_action(text: &str) -> Result<Path, JsonPathError> {
    let wrapped = format!("{text}}}");
    let mut parser = Parser::new(&wrapped);
    let tokens = parser.action()?;
    if !parser.rest().is_empty() {
        return Err(error(format!("invalid expression {text}")));
    }
    steps(tokens)
}

/// `left OP right`: the operator is the first run of `!<>=`.
fn split_comparison(text: &str) -> Option<(&str, Op, &str)> {
    let is_op = |c: char| matches!(c, '!' | '<' | '>' | '=');
    let start = text.find(is_op)?;
    let len = text[start..].find(|c| !is_op(c))?;
    let (left, op, right) = (
        &text[..start],
        &text[start..start + len],
        &text[start + len..],
    );
    let op = match op {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        ">" => Op::Gt,
        "<=" => Op::Le,
        ">=" => Op::Ge,
        _ => return None,
    };
    (!left.is_empty() && !right.is_empty()).then_some((left, op, right))
}

/// The inside of `[...]`.
fn subscript(text: &str) -> Result<Path, JsonPathError> {
    let text = if text == "*" { ":" } else { text };
    if text.contains(',') {
        let alternatives = text
            .split(',')
            .map(|part| subscript(part.trim_matches(' ')))
            .collect::<Result<_, _>>()?;
        return Ok(vec![Step::Union(alternatives)]);
    }
    if let Some(key) = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .filter(|k| !k.contains('\''))
    {
        // Upstream reads `['a.b']` as the path `.a.b`.
        return sub_action(&format!(".{key}"));
    }
    Ok(vec![Step::Slice(slice(text)?)])
}

/// `i`, `a:b`, `a:b:step`, each part optional.
fn slice(text: &str) -> Result<Slice, JsonPathError> {
    let invalid = || error(format!("invalid array index {text}"));
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 {
        return Err(invalid());
    }
    let mut bounds = [Bound::default(); 3];
    for (i, part) in parts.iter().enumerate() {
        let digits = part.strip_prefix('-').unwrap_or(part);
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid());
        }
        if !part.is_empty() {
            let value = part
                .parse()
                .map_err(|_| error(format!("array index {part} is not a number")))?;
            bounds[i] = Bound {
                value,
                known: true,
                derived: false,
            };
        }
    }
    if parts.len() == 1 {
        bounds[1] = Bound {
            value: bounds[0].value + 1,
            known: true,
            derived: true,
        };
    }
    Ok(Slice {
        start: bounds[0],
        end: bounds[1],
        step: bounds[2],
    })
}

/// Go's `strconv.Unquote` rules for the inside of a quoted string.
fn unquote(raw: &str, quote: char) -> Option<String> {
    let mut out = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let escaped = match chars.next()? {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'v' => '\u{b}',
            '\\' => '\\',
            c if c == quote => c,
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            _ => return None,
        };
        out.push(escaped);
    }
    Some(out)
}

fn hex(chars: &mut std::str::Chars, digits: usize) -> Option<char> {
    let text: String = chars.take(digits).collect();
    if text.len() != digits {
        return None;
    }
    char::from_u32(u32::from_str_radix(&text, 16).ok()?)
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Characters that end a field name or identifier.
fn is_terminator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\r' | '\n' | '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}'
    )
}
