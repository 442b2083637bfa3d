//! The clinic's configuration: anyone on the LAN may read it (the display board needs the service names);
//! only a clinic admin may change it.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use crdt_schema::clinic::ClinicConfig;

use super::{ADMIN, ApiJson, AppError, AppState, reply, require};
use crate::{auth::Principal, domain::Command, store::writer::Caller};

pub async fn get_clinic(State(st): State<AppState>) -> Response {
    axum::Json(st.writer.clinic()).into_response()
}

pub async fn put_clinic(
    State(st): State<AppState>,
    p: Principal,
    ApiJson(config): ApiJson<ClinicConfig>,
) -> Result<Response, AppError> {
    require(&p, ADMIN)?;
    let r = st
        .writer
        .execute(
            Command::UpdateClinic {
                config: Box::new(config),
            },
            Caller { id: p.id },
            None,
        )
        .await?;
    Ok(reply(r))
}
