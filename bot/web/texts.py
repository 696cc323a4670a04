"""The web chat's own words in English, Spanish and French (what the bot says comes from bot/locales)."""

from __future__ import annotations

from starlette.requests import Request

from bot.i18n import LANGUAGES

CHAT: dict[str, dict[str, str]] = {
    "en": {"title": "Ask the LEDS advisory help desk", "intro": "Ask a technical question on low-emission "
           "development. The FAQ answers at once; otherwise an expert will answer here.",
           "label": "Your question", "send": "Send", "language": "Language", "you": "You", "desk": "Help desk",
           "offline": "Reconnecting…", "code": "Continue on another device", "code_get": "Get a code",
           "code_use": "Use a code", "code_label": "Code from your other device", "code_ok": "Go",
           "code_shown": "Your code (valid 15 minutes):", "code_bad": "That code is not valid.",
           "log": "Conversation"},
    "es": {"title": "Consulte a la mesa de ayuda de LEDS", "intro": "Haga una pregunta técnica sobre desarrollo "
           "bajo en emisiones. Las preguntas frecuentes responden al instante; si no, un experto responderá aquí.",
           "label": "Su pregunta", "send": "Enviar", "language": "Idioma", "you": "Usted", "desk": "Mesa de ayuda",
           "offline": "Reconectando…", "code": "Continuar en otro dispositivo", "code_get": "Obtener un código",
           "code_use": "Usar un código", "code_label": "Código de su otro dispositivo", "code_ok": "Ir",
           "code_shown": "Su código (válido 15 minutos):", "code_bad": "Ese código no es válido.",
           "log": "Conversación"},
    "fr": {"title": "Interrogez le service d'assistance LEDS", "intro": "Posez une question technique sur le "
           "développement à faibles émissions. La FAQ répond tout de suite ; sinon un expert répondra ici.",
           "label": "Votre question", "send": "Envoyer", "language": "Langue", "you": "Vous",
           "desk": "Service d'assistance", "offline": "Reconnexion…", "code": "Continuer sur un autre appareil",
           "code_get": "Obtenir un code", "code_use": "Utiliser un code", "code_label": "Code de votre autre appareil",
           "code_ok": "OK", "code_shown": "Votre code (valable 15 minutes) :", "code_bad": "Ce code n'est pas valide.",
           "log": "Conversation"},
}
LANGUAGE_NAMES = {"en": "English", "es": "Español", "fr": "Français"}


def chosen_language(request: Request) -> str | None:
    """The language the browser asks for: `?lang=`, else the `hd_lang` cookie, else Accept-Language (None: unsaid)."""
    for value in (request.query_params.get("lang"), request.cookies.get("hd_lang")):
        if value in CHAT:
            return value
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().split("-")[0].lower()
        if code in CHAT and code in LANGUAGES:
            return code
    return None


def chat_language(request: Request) -> str:
    """The page language (English when the browser does not say)."""
    return chosen_language(request) or "en"
