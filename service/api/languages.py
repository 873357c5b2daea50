"""``/v1/languages``: only what the running configuration can both write and speak."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.responses import ANY_KEY, problems
from service.deps import AnyCaller, ServicesDep
from service.schemas import LanguageOut

router = APIRouter(prefix="/v1/languages", tags=["languages"])


@router.get(
    "",
    operation_id="list_languages",
    response_model=list[LanguageOut],
    responses=problems(*ANY_KEY),
)
def get_languages(_caller: AnyCaller, services: ServicesDep) -> list[LanguageOut]:
    return [
        LanguageOut.model_validate(  # validated: engine and kinds are closed sets
            dict(
                code=lang.voice.code,
                name=lang.voice.name,
                native_name=lang.voice.native_name,
                engine=lang.voice.engine,
                voice=lang.voice.voice,
                reviewed=lang.reviewed,
                kinds=lang.kinds,
            )
        )
        for lang in services.pipeline.renderer.languages()
    ]
