//! 回访 on a job's page: the dispatcher's return-visit form once the job is powered on, the
//! follow-up form after a low score, and their POST handlers.

use super::{ShowErr, Shown, Web, check_csrf};
use crate::i18n::Lang;
use crate::service::Env;
use crate::service::return_visit::{self, CHANNELS, VisitInput};
use crate::service::view::JobView;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use std::sync::Arc;

/// The form the job needs now, if `web`'s user records visits.
pub fn card(env: &Env, web: &Web, v: &JobView) -> Markup {
    let lang = web.lang;
    if !return_visit::may_visit(env, &web.session.who) {
        return html! {};
    }
    let state = crate::service::derived::visit_state(env, &v.job);
    let id = &v.job.id;
    html! {
        @match state {
            Some("due") => section.card.no-print #visit-form {
                h2 { (lang.t("记录回访", "Record the return visit")) }
                form.stack method="post" action={ "/jobs/" (id) "/return-visit" } {
                    input type="hidden" name="csrf" value=(web.session.csrf);
                    fieldset {
                        legend { (lang.t("回访方式", "Channel")) }
                        @for (i, (code, zh, en)) in CHANNELS.iter().enumerate() {
                            label.inline {
                                input type="radio" name="channel" value=(code) required checked[i == 0];
                                " " (lang.t(zh, en))
                            }
                        }
                    }
                    fieldset {
                        legend { (lang.t("满意度（1 很不满意 … 5 很满意）", "Satisfaction (1 very unhappy … 5 very happy)")) }
                        @for n in 1..=5 {
                            label.inline {
                                input type="radio" name="satisfaction" value=(n) required;
                                " " (n)
                            }
                        }
                    }
                    label {
                        (lang.t("客户意见", "What the customer said"))
                        textarea name="comment" maxlength=(return_visit::COMMENT_MAX) {}
                    }
                    div.actions { button type="submit" { (lang.t("保存回访", "Save the visit")) } }
                }
            },
            Some("follow_up") => section.card.no-print #visit-form {
                h2 { (lang.t("低分回访跟进", "Follow up a low score")) }
                p {
                    (lang.t("客户满意度 ", "Satisfaction "))
                    strong { (v.job.return_visit.satisfaction.unwrap_or(0)) }
                    (lang.t(" 分：", ": "))
                    (v.job.return_visit.comment.as_deref().unwrap_or(""))
                }
                form.stack method="post" action={ "/jobs/" (id) "/follow-up" } {
                    input type="hidden" name="csrf" value=(web.session.csrf);
                    label {
                        (lang.t("跟进情况", "What was done"))
                        textarea name="text" required maxlength=(return_visit::COMMENT_MAX) {}
                    }
                    div.actions { button type="submit" { (lang.t("保存跟进", "Save the follow-up")) } }
                }
            },
            _ => {},
        }
    }
}

fn done(id: &str, what: &str) -> Response {
    Redirect::to(&format!("/jobs/{id}?done={what}#return_visit")).into_response()
}

fn bad_number(lang: Lang) -> Shown {
    Shown(
        lang,
        crate::error::ServerError::bad(
            "invalid_value",
            "满意度须为 1 到 5 分",
            "satisfaction is 1 to 5",
        ),
    )
}

/// `POST /jobs/{id}/return-visit`.
pub async fn record(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    let fields = super::Form::parse(&body);
    check_csrf(&web, fields.get("csrf"))?;
    let input = VisitInput {
        channel: fields.get("channel").to_string(),
        satisfaction: fields
            .get("satisfaction")
            .parse()
            .map_err(|_| bad_number(web.lang))?,
        comment: fields.get("comment").to_string(),
    };
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| return_visit::record_visit(env, &who, &i, &input))
        .await
        .page(web.lang)?;
    Ok(done(&id, "visit"))
}

/// `POST /jobs/{id}/follow-up`.
pub async fn follow_up(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Shown> {
    let fields = super::Form::parse(&body);
    check_csrf(&web, fields.get("csrf"))?;
    let text = fields.get("text").to_string();
    let (who, i) = (web.session.who.clone(), id.clone());
    env.blocking(move |env| return_visit::record_follow_up(env, &who, &i, &text))
        .await
        .page(web.lang)?;
    Ok(done(&id, "follow_up"))
}
