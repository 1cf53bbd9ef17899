"""Challenges → Privacy (隐私性): a membership-inference attack on the models trained here, and personal data in text."""

import streamlit as st

from ui import privacy
from ui.i18n import _
from ui.runtime import through_router

through_router()

st.title(_("Privacy: what a model gives away"))
st.markdown(
    _("The article names **privacy** (隐私性) as a challenge: a model trained on people's texts can give away "
      "which texts it saw, and the texts may hold personal data. Here it is measured: a detector for personal data "
      "in text, an attack that tells training texts from others, and a secret planted in training text.")
)
personal, attack, canary = st.tabs([_("Personal data in text"), _("Membership inference"), _("A planted secret")])
with personal:
    privacy.pii_panel()
with attack:
    privacy.attack_panel()
with canary:
    privacy.canary_panel()
