"""The deploy-ui step: the UI built with npm and deployed to its Azure App Service."""
