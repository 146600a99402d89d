"""Family theory: the closed-form numbers and the table of the two regions."""

import pytest

from ctadam.experiments.theory import numbers, region_table
from ctadam.theory import stability as st


def test_region_table_and_macros():
    band = region_table.row(0.5, 0.3)
    assert band.startswith("0.5 & 0.3 & stable") and "unstable" in band and band.endswith(r"yes \\")
    macros = numbers.region_macros()
    assert macros["TheoryKernelBoundDefault"] == "7.47"
    assert macros["TheoryRmspropBinfThree"] == "31.6"
    assert macros["TheoryPaperBoundaryHalf"] == "0.333"
    assert macros["TheoryExactBoundaryHalf"] == "0.250"


def test_stability_macros_quote_the_checked_constants():
    macros = numbers.stability_macros()
    assert macros["TheoryCheckedMaxSteps"] == numbers._power_of_ten(st.CHECKED_MAX_STEPS)
    assert macros["TheoryCheckedMaxSteps"] == "10^{6}"
    assert macros["TheoryCheckedMaxRatio"] == f"{st.CHECKED_MAX_RATIO:g}"
    assert macros["TheoryAdversarialRtol"] == numbers._power_of_ten(st.ADVERSARIAL_RTOL)
    assert (macros["TheoryBoundaryBeta"], macros["TheoryBoundaryGamma"]) == ("0.9", "0.81")
    assert numbers.checked_range_is_safe()
    with pytest.raises(ValueError, match="^x must be a power of ten"):
        numbers._power_of_ten(2e-9)
