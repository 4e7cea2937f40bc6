"""The studio's look: a theme whose helper text reads at >= 4.5:1, a focus ring on every control,
bounded upload previews, and a Render bar that stays on screen on a phone."""
from __future__ import annotations

import gradio as gr

# helper text (gr `info`, slider bounds, captions): #4b5563 on white is 7.6:1, #c7ccd4 on the
# dark theme's #0b0f19 is 12:1; Gradio's own subdued grey is 1.9:1
SUBDUED, SUBDUED_DARK = "#4b5563", "#c7ccd4"
FOCUS = "#1d4ed8"


def studio_theme() -> gr.themes.Base:
    return gr.themes.Default().set(
        body_text_color_subdued=SUBDUED, body_text_color_subdued_dark=SUBDUED_DARK,
        block_info_text_color=SUBDUED, block_info_text_color_dark=SUBDUED_DARK,
        block_info_text_size="*text_sm", block_label_text_color=SUBDUED,
        block_label_text_color_dark=SUBDUED_DARK, block_title_text_color=SUBDUED,
        block_title_text_color_dark=SUBDUED_DARK, input_placeholder_color=SUBDUED,
        input_placeholder_color_dark=SUBDUED_DARK)


CSS = f"""
/* every control shows where the keyboard is, sliders and checkboxes included */
.gradio-container :is(button, input, textarea, select, [role=tab], [tabindex]):focus-visible {{
  outline: 3px solid {FOCUS} !important; outline-offset: 2px !important; }}
.gradio-container input[type=range]:focus-visible {{ outline-offset: 4px !important; }}
.gradio-container .dotted-name {{ font-size: 0.8rem; color: {SUBDUED}; font-family: monospace; }}
.dark .gradio-container .dotted-name {{ color: {SUBDUED_DARK}; }}
.ak-header h2 {{ margin: 0 0 2px 0; font-size: 1.35rem; }}
.ak-header p {{ margin: 0; }}
/* an upload preview never fills the column: the next input stays in view */
.ak-inputs .image-container img, .ak-inputs .image-frame img {{ max-height: 200px;
  object-fit: contain; }}
.ak-inputs [data-testid=image], .ak-inputs .image-container {{ max-height: 240px; }}
.ak-inputs .upload-container, .ak-inputs .upload-container > .wrap,
.ak-inputs .audio-container {{ min-height: 64px !important; height: auto !important; }}
.ak-inputs .upload-container .or {{ display: none; }}
.ak-inputs .upload-container .wrap {{ flex-direction: row; gap: 4px; padding: 6px; }}
.ak-intro p {{ margin: 0; }}
.ak-intro h2 {{ margin: 0; }}
.ak-inputs video {{ max-height: 200px; }}
.ak-notes:empty {{ display: none; }}
.ak-notes p {{ margin: 2px 0; }}
.ak-result video {{ max-height: 420px; }}
/* examples: one strip of small cards (thumbnail over label), scrolling sideways, not a table */
.ak-examples table {{ width: 100%; }}
.ak-examples thead {{ display: none; }}
.ak-examples tbody {{ display: flex; flex-wrap: nowrap; gap: 6px; width: 100%; overflow-x: auto; }}
.ak-examples tr {{ display: flex; flex-direction: column; align-items: center; flex: 0 0 124px;
  cursor: pointer; }}
.ak-examples td {{ padding: 1px 3px !important; border: none !important; text-align: center;
  font-size: 0.78rem; line-height: 1.15; }}
.ak-examples td .container {{ width: 76px !important; height: 50px !important; }}
.ak-examples img {{ width: 100%; height: 100%; object-fit: cover; }}
.overflow-menu button[aria-label="More tabs"]::after {{ content: " More tabs"; font-size: 0.9rem; }}
@media (max-width: 640px) {{
  /* every tab in the bar, wrapped over two lines: Gradio moves into its "More tabs" menu
     the tabs its hidden measuring copies say do not fit, so those copies are made tiny */
  .tab-container.visually-hidden button {{ display: none !important; }}
  .tab-wrapper {{ height: auto !important; min-height: 0 !important; }}
  [role=tablist].tab-container {{ flex-wrap: wrap; height: auto !important; row-gap: 2px; }}
  .ak-intro p {{ display: none; }}
  [role=tablist].tab-container button {{ padding: 4px 8px !important; }}
  .ak-examples tr {{ width: 108px; }}
  /* Render and Cancel stay at the bottom of the screen while the inputs scroll */
  .ak-actions {{ position: fixed; left: 0; right: 0; bottom: 0; z-index: 50; margin: 0 !important;
    padding: 8px 12px; background: var(--background-fill-primary);
    border-top: 1px solid var(--border-color-primary); }}
  .gradio-container {{ padding-bottom: 80px !important; }}
  .ak-result video {{ max-height: 260px; }}
}}
"""
