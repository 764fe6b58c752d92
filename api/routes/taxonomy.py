"""The need and strength vocabularies, with labels, for callers building their forms."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from api.deps import require_role
from vcsmatch.taxonomy import Term, load_taxonomy

router = APIRouter(prefix="/v1/taxonomy", tags=["taxonomy"])


class TermPublic(BaseModel):
    code: str
    label: str
    description: str
    synonyms: list[str]


class TaxonomyPublic(BaseModel):
    """Need codes (what a person needs help with) and strength codes (what they enjoy or can
    offer; they double as the codes of services' activities)."""

    needs: list[TermPublic]
    strengths: list[TermPublic]


def _term(t: Term) -> TermPublic:
    return TermPublic(
        code=t.code, label=t.label, description=t.description, synonyms=list(t.synonyms)
    )


@router.get(
    "",
    operation_id="get_taxonomy",
    summary="Need and strength codes with labels",
    dependencies=[Depends(require_role("practitioner", "front_door", "analyst", "admin"))],
)
def get_taxonomy() -> TaxonomyPublic:
    tax = load_taxonomy()
    return TaxonomyPublic(
        needs=[_term(t) for t in tax.needs], strengths=[_term(t) for t in tax.strengths]
    )
