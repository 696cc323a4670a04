"""The web pages: practitioner chat, expert inbox, secretariat dashboard, login and metrics."""
