//! One labelled form field: its label, a hint, the API's message when the value was
//! refused (tied to the control by `aria-describedby`, and the control marked invalid), and
//! the control itself.

use maud::{html, Markup};

/// How a field is drawn.
pub(crate) struct Frame<'a> {
    /// The control's id (the label's `for`).
    pub id: &'a str,
    /// The label.
    pub label: &'a str,
    /// What to enter, if it needs saying.
    pub hint: Option<String>,
    /// Why the value was refused.
    pub error: Option<&'a str>,
    /// The field must be filled.
    pub required: bool,
}

impl Frame<'_> {
    /// The ids describing the control: its hint and its error.
    pub(crate) fn described_by(&self) -> Option<String> {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        (!ids.is_empty()).then(|| ids.join(" "))
    }

    /// `"true"` when the value was refused.
    pub(crate) fn invalid(&self) -> Option<&'static str> {
        self.error.map(|_| "true")
    }

    /// The label, hint and error above `control`.
    pub(crate) fn render(&self, control: Markup) -> Markup {
        html! {
            div class="field" {
                label for=(self.id) {
                    (self.label)
                    @if self.required { " " span class="required" { "(required)" } }
                }
                @if let Some(hint) = &self.hint {
                    p class="hint" id={ (self.id) "-hint" } { (hint) }
                }
                @if let Some(error) = self.error {
                    p class="field-error" id={ (self.id) "-error" } {
                        span class="visually-hidden" { "Error: " } (error)
                    }
                }
                (control)
            }
        }
    }

    /// A checkbox with its label beside it, then the hint and error.
    pub(crate) fn render_check(&self, name: &str, value: &str, checked: bool) -> Markup {
        html! {
            div class="field" {
                label class="check" for=(self.id) {
                    input type="checkbox" id=(self.id) name=(name) value=(value) checked[checked]
                        aria-describedby=[self.described_by()] aria-invalid=[self.invalid()];
                    span { (self.label) }
                }
                @if let Some(hint) = &self.hint {
                    p class="hint" id={ (self.id) "-hint" } { (hint) }
                }
                @if let Some(error) = self.error {
                    p class="field-error" id={ (self.id) "-error" } {
                        span class="visually-hidden" { "Error: " } (error)
                    }
                }
            }
        }
    }
}

/// A form control's id for a field path (`config.org_url` → `f-config-org_url`).
pub(crate) fn id_of(path: &str) -> String {
    let safe: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("f-{safe}")
}
