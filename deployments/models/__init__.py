from .ecs import Deployment, Service, Task, TaskContainer, TaskDefinition

__all__ = ["Deployment", "Service", "Task", "TaskContainer", "TaskDefinition"]
