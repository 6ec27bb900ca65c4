"""A local stand-in for Azure OpenAI: Responses, chat completions, embeddings, errors, limits and faults."""

from aigateway.emulator.app import create_app
from aigateway.emulator.config import Deployment, EmulatorConfig, Faults, ScriptedResponse

__all__ = ["Deployment", "EmulatorConfig", "Faults", "ScriptedResponse", "create_app"]
