//! The builders every part of the OpenAPI document uses: references, operations, answers
//! and the common schema shapes. A leaf: it imports nothing of the document.

use serde_json::{json, Value};

/// A non-negative integer the handler reads as a `u32`.
pub fn u32_int() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u32::MAX })
}

/// A non-negative integer the handler reads as a `u64` (or `usize`).
pub fn u64_int() -> Value {
    json!({ "type": "integer", "minimum": 0, "maximum": u64::MAX })
}

/// A reference to the schema `name` of `components.schemas`.
pub fn schema(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// An operation answering `status` with `answer`, the shared error responses, `params` by
/// reference and an optional JSON body (for the route groups' `extend` functions).
pub fn operation(
    summary: &str,
    params: &[&str],
    body: Option<Value>,
    status: &str,
    answer: Value,
) -> Value {
    let error = json!({ "$ref": "#/components/responses/Error" });
    let content = json!({ "application/json": { "schema": answer } });
    let mut responses = json!({ status: { "description": "success", "content": content } });
    for code in ["400", "401", "403", "404", "409", "412", "503"] {
        responses[code] = error.clone();
    }
    let params: Vec<Value> = params
        .iter()
        .map(|p| json!({ "$ref": format!("#/components/parameters/{p}") }))
        .collect();
    let mut op = json!({ "summary": summary, "parameters": params, "responses": responses });
    if let Some(body) = body {
        op["requestBody"] =
            json!({ "required": true, "content": { "application/json": { "schema": body } } });
    }
    op
}

/// A reference to the parameter `name` of `components.parameters`.
pub fn param(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

/// A JSON answer described as `description` with schema `s`.
pub fn answer(description: &str, s: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": s } } })
}

/// One operation: by default authenticated, answering 200 with `answer`.
pub struct Op {
    summary: &'static str,
    params: &'static [&'static str],
    body: Option<Value>,
    status: &'static str,
    answer: Value,
    auth: bool,
}

impl Op {
    pub fn new(summary: &'static str, answer: Value) -> Self {
        Op {
            summary,
            params: &[],
            body: None,
            status: "200",
            answer,
            auth: true,
        }
    }

    pub fn params(self, params: &'static [&'static str]) -> Self {
        Op { params, ..self }
    }

    pub fn body(self, body: Value) -> Self {
        Op {
            body: Some(body),
            ..self
        }
    }

    pub fn created(self) -> Self {
        Op {
            status: "201",
            ..self
        }
    }

    /// No `Authorization` needed.
    pub fn open(self) -> Self {
        Op {
            auth: false,
            ..self
        }
    }

    /// Every operation may answer the error shape; authenticated ones also 401-412.
    pub fn build(self) -> Value {
        let error = json!({ "$ref": "#/components/responses/Error" });
        let mut responses = json!({ self.status: answer("success", self.answer) });
        let codes: &[&str] = if self.auth {
            &["400", "401", "403", "404", "409", "412", "503"]
        } else {
            &["503"]
        };
        for code in codes {
            responses[*code] = error.clone();
        }
        let params: Vec<Value> = self.params.iter().map(|p| param(p)).collect();
        let mut op =
            json!({ "summary": self.summary, "parameters": params, "responses": responses });
        if let Some(body) = self.body {
            op["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": body } } });
        }
        if !self.auth {
            op["security"] = json!([]);
        }
        op
    }
}

/// A write's answer: `version` and the properties of `extra` (a JSON object).
pub fn written(extra: Value) -> Value {
    let mut props = json!({ "version": { "type": "integer", "minimum": 0 } });
    if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({ "type": "object", "required": ["version"], "properties": props })
}

/// `{version, items: [s]}`.
pub fn items(s: Value) -> Value {
    let version = json!({ "type": "integer" });
    json!({ "type": "object", "properties": { "version": version, "items": array(s) } })
}

/// An array of `s`.
pub fn array(s: Value) -> Value {
    json!({ "type": "array", "items": s })
}

/// A closed object (`additionalProperties: false`, as the `deny_unknown_fields` bodies are).
pub fn object(props: Value, required: &[&str]) -> Value {
    let mut o = json!({ "type": "object", "additionalProperties": false, "properties": props });
    // OpenAPI 3.0 wants a non-empty `required` or none at all.
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    o
}

/// The shared error answers of an authenticated operation, added to `responses`.
pub fn error_responses(responses: &mut Value) {
    let error = json!({ "$ref": "#/components/responses/Error" });
    for code in ["400", "401", "403", "404", "409", "412", "503"] {
        responses[code] = error.clone();
    }
}

/// References to the parameters `names` of `components.parameters`.
pub fn params(names: &[&str]) -> Vec<Value> {
    names.iter().map(|p| param(p)).collect()
}
