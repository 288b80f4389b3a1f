"""Hooks for the schemathesis run of tests/it/schemathesis_interop.rs.

openapi.json gives recipients the format `phone`: a mobile number, which no JSON schema can
describe (libphonenumber decides). Drawn from real mobile numbers here, generated sends succeed,
so the fuzzer also reaches the 201 path and follows the document's links from a send to
verify, resend, cancel and status with real verification ids.
"""

import schemathesis
from hypothesis import strategies as st

# Tanzanian mobile numbers (+255 713 ...), written as clients do: E.164, spaced, dashed.
phones = st.integers(min_value=0, max_value=999_999).flatmap(
    lambda n: st.sampled_from(
        [f"+255713{n:06d}", f"+255 713 {n:06d}", f"+255-713-{n // 1000:03d}-{n % 1000:03d}"]
    )
)

schemathesis.openapi.format("phone", phones)

# Beem's msisdn: the same numbers without the '+'.
schemathesis.openapi.format("msisdn", st.integers(min_value=0, max_value=999_999).map(lambda n: f"255713{n:06d}"))
