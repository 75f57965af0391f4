"""tthc.memory: the cyclic collector around bulk steps is set back as it was, whatever happens."""

from __future__ import annotations

import gc

import pytest

from tthc.memory import cyclic_gc_paused, frozen_heap


class Boom(Exception):
    pass


@pytest.mark.parametrize("enabled_before", [True, False])
def test_the_collector_waits_during_the_block_and_is_set_back_after(enabled_before):
    (gc.enable if enabled_before else gc.disable)()
    try:
        with pytest.raises(Boom), cyclic_gc_paused():
            assert not gc.isenabled()
            raise Boom
        assert gc.isenabled() is enabled_before
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled_before
    finally:
        gc.enable()


def test_the_objects_alive_before_the_block_are_frozen_in_it_and_handed_back_after():
    def collectable(obj) -> bool:  # gc.get_objects() lists what the collector walks, not the frozen
        return any(o is obj for o in gc.get_objects())

    before = gc.get_freeze_count()
    older = [object()]
    with pytest.raises(Boom), frozen_heap():
        made_inside = [object()]
        assert gc.get_freeze_count() > before
        assert not collectable(older) and collectable(made_inside)
        raise Boom
    assert gc.get_freeze_count() == before
    assert collectable(older)
